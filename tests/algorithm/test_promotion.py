"""The evaluation set (rows training leaves out), the promotion policy and its decisions,
against the test database with the algorithm side's tables."""

import random
import uuid

import pytest

from algorithm.cron import parse_cron
from algorithm.domain import datasource, db, evaluation_sets, ml, promotion, training
from algorithm.domain.errors import FailedPrecondition, InvalidArgument
from tests.support import publish_model, read_tsv


def check_cron(expression: str) -> None:
    parse_cron(expression)


def add_rows(rows, source="api") -> list[int]:
    from web.data.models import Data

    made = Data.objects.bulk_create(
        [Data(text=text, label=label, source=source) for text, label in rows]
    )
    return [row.id for row in made]


def labelled(count: int, label: str) -> list[tuple[str, str]]:
    return [(f"{label} text number {n}", label) for n in range(count)]


def test_a_stratified_fraction_takes_each_labels_share(tables):
    add_rows(labelled(80, "ham") + labelled(20, "spam") + labelled(2, "rare") + labelled(1, "one"))

    created = evaluation_sets.set_create(method="fraction", fraction=0.25, seed=7)

    assert created["label_counts"] == {"ham": 20, "spam": 5, "rare": 1}
    assert (created["rows"], created["row_count"], created["method"]) == (26, 26, "fraction")


def test_the_same_seed_chooses_the_same_rows(tables):
    add_rows(labelled(50, "ham") + labelled(50, "spam"))

    def chosen() -> set[str]:
        evaluation_sets.set_create(method="fraction", fraction=0.3, seed=3)
        return set(evaluation_sets.read_current_rows().texts)

    assert chosen() == chosen()


def test_unknown_ids_are_named(tables):
    ids = add_rows(labelled(3, "ham"))

    with pytest.raises(InvalidArgument, match=f"not in the data table: {ids[-1] + 1}, 999999"):
        evaluation_sets.set_create(method="ids", data_ids=[ids[0], ids[-1] + 1, 999999])
    assert evaluation_sets.set_current() is None


def test_training_reads_every_row_but_the_sets(tables):
    ids = add_rows(labelled(10, "ham") + labelled(10, "spam"))
    before = datasource.read_labelled_rows(lambda read, total: None)
    assert (len(before.texts), before.held_out) == (20, None)

    evaluation_sets.set_create(method="ids", data_ids=ids[:3])
    after = datasource.read_labelled_rows(lambda read, total: None)
    with datasource.open_labelled_stream(lambda read, total: None) as stream:
        streamed = [text for batch in stream.batches() for text, _ in batch]
        counts = stream.label_counts

    held = ["ham text number 0", "ham text number 1", "ham text number 2"]
    assert after.held_out.texts == held
    assert sorted(after.texts) == sorted(before.texts[3:]) == sorted(streamed)
    assert (after.snapshot["rows"], counts) == (17, {"ham": 7, "spam": 10})

    evaluation_sets.set_delete()
    assert len(datasource.read_labelled_rows(lambda read, total: None).texts) == 20


def test_new_review_and_feedback_rows_join_by_their_share(tables):
    add_rows(labelled(10, "ham") + labelled(10, "spam"))
    evaluation_sets.set_create(method="fraction", fraction=0.2, new_rows_share=1.0)
    add_rows(labelled(3, "fed"), source="feedback")
    add_rows(labelled(3, "api"), source="api")

    evaluation_sets.sync_current()

    found = evaluation_sets.set_current()
    assert found["label_counts"]["fed"] == 3 and "api" not in found["label_counts"]
    read = datasource.read_labelled_rows(lambda read, total: None)
    assert "fed" not in read.labels and read.labels.count("api") == 3


def test_a_policy_needs_an_evaluation_set_and_sound_fields(tables):
    with pytest.raises(FailedPrecondition, match="create one first"):
        promotion.policy_set({}, check_cron)
    add_rows(labelled(5, "ham") + labelled(5, "spam"))
    evaluation_sets.set_create(method="fraction", fraction=0.2)
    for wrong, message in [
        ({"metric": "recall"}, "metric must be one of"),
        ({"algorithm": "nope"}, "Unknown algorithm"),
        ({"trigger": {"cron_expression": "every day"}}, "5 fields"),
        ({"trigger": {"every_new_rows": 0}}, "at least 1"),
        ({"max_recall_drop": 2}, "from 0 to 1"),
        ({"min_shadow_agreement": 1.5}, "min_shadow_agreement must be from 0 to 1"),
        ({"min_shadow_agreement": "high"}, "min_shadow_agreement must be a number"),
        ({"min_shadow_predictions": 0}, "min_shadow_predictions must be a whole number from 1"),
        ({"min_shadow_predictions": 2.5}, "min_shadow_predictions must be a whole number"),
        ({"min_shadow_predictions": True}, "min_shadow_predictions must be a whole number"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            promotion.policy_set(wrong, check_cron)

    stored = promotion.policy_set({"trigger": {"every_new_rows": 5}}, check_cron)["policy"]

    assert stored["metric"] == "accuracy" and stored["max_recall_drop"] == 0.05
    # The shadow rule is off unless asked for.
    assert (stored["min_shadow_agreement"], stored["min_shadow_predictions"]) == (None, 500)
    assert stored["parameters"] == ml.resolve_parameters(ml.DEFAULT_ALGORITHM, {})


def test_the_every_new_rows_trigger_queues_one_challenger_at_a_time(tables):
    add_rows(labelled(5, "ham") + labelled(5, "spam"))
    evaluation_sets.set_create(method="fraction", fraction=0.2)
    promotion.policy_set({"trigger": {"every_new_rows": 3}}, check_cron)
    never = lambda expression, since: False  # noqa: E731

    add_rows(labelled(2, "ham"))
    assert promotion.challenger_due(never) is None
    add_rows(labelled(1, "ham"))
    job = promotion.challenger_due(never)
    assert job is not None and job["promotion"]

    add_rows(labelled(5, "ham"))
    assert promotion.challenger_due(never) is None  # the first is still in flight
    with pytest.raises(FailedPrecondition, match=str(job["id"])):
        promotion.challenger_create()


@pytest.fixture(scope="module")
def sms_rows():
    rows = [(row["text"], row["label"]) for row in read_tsv("sms_spam.tsv")]
    return random.Random(1).sample(rows, 1500)


def run_challenger(store, algorithm="linear_svm") -> dict:
    job = promotion.challenger_create(algorithm=algorithm, parameters={})
    return training.run_training_job(str(job["id"]), store)


def set_row_ids() -> set[int]:
    with db.transaction() as cursor:
        cursor.execute("SELECT data_id FROM evaluation_set_rows")
        return {row["data_id"] for row in cursor.fetchall()}


def shuffle_training_labels() -> None:
    """Shuffle the labels of the rows training reads; the evaluation set's stay true."""
    from web.data.models import Data

    training_rows = Data.objects.exclude(id__in=set_row_ids()).order_by("id")
    ids, labels = zip(*training_rows.values_list("id", "label"), strict=True)
    labels = list(labels)
    random.Random(2).shuffle(labels)
    for row_id, label in zip(ids, labels, strict=True):
        Data.objects.filter(id=row_id).update(label=label)


def supports(figures: dict) -> dict[str, int]:
    return {label: scores["support"] for label, scores in figures["per_label"].items()}


def test_a_challenger_trained_on_shuffled_labels_is_kept_with_evidence(tables, store, sms_rows):
    add_rows(sms_rows)
    evaluation_sets.set_create(method="fraction", fraction=0.3, seed=1)
    first = run_challenger(store)
    assert (first["outcome"], first["reason"]) == ("promoted", "no champion")
    champion_id = str(first["candidate_id"])
    shuffle_training_labels()

    decision = run_challenger(store)

    evidence = decision["evidence"]
    assert decision["outcome"] == "kept" and store.active_id() == champion_id
    assert evidence["champion"]["model_id"] == champion_id
    assert evidence["challenger"]["model_id"] == str(decision["candidate_id"])
    # Both versions' per-label tables count the same rows: the set's.
    assert supports(evidence["champion"]) == supports(evidence["challenger"])
    assert sum(supports(evidence["champion"]).values()) == evidence["evaluation_set"]["rows"]
    assert evidence["champion"]["accuracy"] > evidence["challenger"]["accuracy"] + 0.1
    failed = {check["name"] for check in evidence["checks"] if not check["passed"]}
    assert "accuracy improvement" in failed
    assert decision["rule"]["metric"] == "accuracy"
    manifest = store.read_manifest(str(decision["candidate_id"]))
    assert manifest["evaluation"]["set_id"] == evidence["evaluation_set"]["id"]
    assert manifest["evaluation"]["rows"] == evidence["evaluation_set"]["rows"]


def test_a_better_challenger_is_promoted(tables, store, sms_rows):
    add_rows(sms_rows)
    evaluation_sets.set_create(method="fraction", fraction=0.3, seed=1)
    weak = publish_model(store, sms_rows[:40])  # a weak champion: a few rows

    decision = run_challenger(store)

    assert decision["outcome"] == "promoted", decision["reason"]
    assert store.active_id() == str(decision["candidate_id"])
    assert all(check["passed"] for check in decision["evidence"]["checks"])
    assert decision["evidence"]["champion"]["model_id"] == weak


def test_the_cron_trigger_queues_a_challenger_once_it_ticked(tables):
    add_rows(labelled(5, "ham") + labelled(5, "spam"))
    evaluation_sets.set_create(method="fraction", fraction=0.2)
    promotion.policy_set({"trigger": {"cron_expression": "0 3 * * *"}}, check_cron)
    asked = []

    def ticked(expression, since):
        asked.append(expression)
        return len(asked) > 1

    assert promotion.challenger_due(ticked) is None
    assert promotion.challenger_due(ticked)["promotion"]
    assert asked == ["0 3 * * *", "0 3 * * *"]


def test_a_replaced_set_is_retired_its_record_kept_and_its_rows_gone(tables):
    add_rows(labelled(10, "ham") + labelled(10, "spam"))
    first = evaluation_sets.set_create(method="fraction", fraction=0.2)

    second = evaluation_sets.set_create(method="fraction", fraction=0.5, seed=9)

    with db.transaction() as cursor:
        cursor.execute("SELECT id, retire_time FROM evaluation_sets ORDER BY create_time")
        sets = [(row["id"], row["retire_time"] is not None) for row in cursor.fetchall()]
        cursor.execute("SELECT DISTINCT set_id FROM evaluation_set_rows")
        with_rows = [row["set_id"] for row in cursor.fetchall()]
    assert sets == [(first["id"], True), (second["id"], False)]
    assert with_rows == [second["id"]]
    assert evaluation_sets.set_current()["rows"] == 10


def test_a_retried_challenger_request_gets_the_job_it_started(tables):
    add_rows(labelled(5, "ham") + labelled(5, "spam"))
    evaluation_sets.set_create(method="fraction", fraction=0.2)
    promotion.policy_set({}, check_cron)
    request_id = uuid.uuid4()

    first = promotion.challenger_create(request_id=request_id)
    again = promotion.challenger_create(request_id=request_id)

    assert again["id"] == first["id"]
    with pytest.raises(FailedPrecondition, match="already being trained"):
        promotion.challenger_create(request_id=uuid.uuid4())
