"""The promotion policy's shadow rule, against the test database and a model store: a
challenger that passes on the evaluation set is first the shadow, and the promotion check
promotes or keeps it by its agreement with the champion, counted as the serving processes
flush it (traffic_counts.agreement_add)."""

import random
import threading

import pytest

from algorithm.domain import db, evaluation_sets, promotion, shadow_promotion, traffic_counts
from algorithm.domain.errors import FailedPrecondition
from algorithm.domain.traffic import Shadow, Traffic, canary_from, now
from tests.algorithm.test_promotion import add_rows, check_cron
from tests.support import publish_model, read_tsv

NEEDED = 100
BOUND = 0.9


@pytest.fixture(scope="module")
def sms_rows():
    rows = [(row["text"], row["label"]) for row in read_tsv("sms_spam.tsv")]
    return random.Random(4).sample(rows, 900)


@pytest.fixture
def shadowing(tables, store, sms_rows):
    """A weak champion, a canary beside it, and a sound challenger decided under the shadow
    rule: (champion, challenger, canary, job, decision)."""
    add_rows(sms_rows)
    evaluation_sets.set_create(method="fraction", fraction=0.3, seed=1)
    rule = {"min_shadow_agreement": BOUND, "min_shadow_predictions": NEEDED}
    promotion.policy_set({"trigger": {"cron_expression": "0 3 * * *"}, **rule}, check_cron)
    champion = publish_model(store, sms_rows[:40])
    challenger = publish_model(store, sms_rows[300:], activate=False)
    canary = publish_model(store, sms_rows[:60], activate=False)
    store.update_traffic(
        lambda _: Traffic(canary=canary_from({"model_id": canary, "percent": 10}, now()))
    )
    # Comparisons counted before the rule made it the shadow: never the rule's to judge.
    flush(challenger, champion, agreed=0, disagreed=1000)
    job = promotion.challenger_create()
    decision = promotion.decide(job, challenger, store)
    with db.transaction() as cursor:  # its job ends, as the worker ends it after decide
        cursor.execute("UPDATE jobs SET state = 'succeeded' WHERE id = %s", (job["id"],))
    return champion, challenger, canary, job, decision


def flush(shadow: str, champion: str, *, agreed: int, disagreed: int) -> None:
    """What serving processes add after comparing the shadow's labels with the champion's."""
    traffic_counts.agreement_add(
        [
            (shadow, champion, "ham", "ham", agreed),
            (shadow, champion, "ham", "spam", disagreed),
        ]
    )


def final_decisions(job) -> list[str]:
    with db.transaction() as cursor:
        cursor.execute(
            "SELECT outcome FROM promotion_decisions WHERE job_id = %s ORDER BY create_time",
            (job["id"],),
        )
        return [row["outcome"] for row in cursor.fetchall()]


def test_a_challenger_that_passes_becomes_the_shadow_and_not_the_champion(store, shadowing):
    champion, challenger, canary, job, decision = shadowing

    split = store.read_traffic()
    assert decision["outcome"] == "shadowing", decision["reason"]
    assert store.active_id() == champion
    assert (split.shadow.model_id, split.shadow.share) == (challenger, 1.0)
    assert split.canary.model_id == canary
    assert all(check["passed"] for check in decision["evidence"]["checks"])
    assert decision["evidence"]["shadow"] == {
        "since": split.shadow.since,
        "min_agreement": BOUND,
        "min_predictions": NEEDED,
        "counted_before": {"predictions": 1000, "agreed": 0},
    }
    # A redelivered job keeps its decision; no second challenger while this one is judged.
    assert promotion.decide(job, challenger, store)["id"] == decision["id"]
    assert promotion.challenger_due(lambda expression, since: True) is None  # cron due
    with pytest.raises(FailedPrecondition, match=f"{challenger} is the shadow"):
        promotion.challenger_create()


def test_the_check_waits_for_enough_predictions_then_promotes(store, shadowing):
    champion, challenger, canary, job, decision = shadowing
    flush(challenger, champion, agreed=89, disagreed=10)
    assert shadow_promotion.check_shadowing(store) is None  # 99 compared: too few

    flush(challenger, champion, agreed=1, disagreed=0)
    final = shadow_promotion.check_shadowing(store)

    assert final["outcome"] == "promoted", final["reason"]
    assert (final["job_id"], final["candidate_id"]) == (job["id"], decision["candidate_id"])
    assert final["evidence"]["checks"][-1] == {
        "name": "shadow agreement",
        "value": 0.9,
        "bound": BOUND,
        "passed": True,
    }
    assert (final["evidence"]["shadow"]["predictions"], final["evidence"]["shadow"]["agreed"]) == (
        100,
        90,
    )
    assert final["evidence"]["champion"] == decision["evidence"]["champion"]
    assert store.active_id() == challenger
    assert store.read_traffic().shadow is None
    assert store.read_traffic().canary.model_id == canary
    assert final_decisions(job) == ["shadowing", "promoted"]
    assert shadow_promotion.check_shadowing(store) is None
    assert promotion.decide(job, challenger, store)["id"] == decision["id"]


def test_agreement_below_the_bound_keeps_the_champion_and_ends_the_shadow(store, shadowing):
    champion, challenger, canary, _, _ = shadowing
    flush(challenger, champion, agreed=80, disagreed=20)

    final = shadow_promotion.check_shadowing(store)

    assert final["outcome"] == "kept"
    assert final["reason"] == "failed: shadow agreement (80.0% on 100 predictions, below 90.0%)"
    assert final["evidence"]["checks"][-1]["passed"] is False
    assert store.active_id() == champion
    assert store.read_traffic().shadow is None
    assert store.read_traffic().canary.model_id == canary
    # The policy queues the next challenger again.
    assert promotion.challenger_due(lambda expression, since: True)["promotion"]


def test_a_shadow_replaced_meanwhile_keeps_the_champion_unjudged(store, shadowing):
    champion, challenger, canary, job, _ = shadowing
    other = Shadow(model_id=canary, share=0.5, since=now())
    store.update_traffic(lambda current: Traffic(shadow=other))
    flush(challenger, champion, agreed=500, disagreed=0)

    final = shadow_promotion.check_shadowing(store)

    assert final["outcome"] == "kept"
    assert (
        final["reason"] == f"The shadow is no longer the challenger (it is {canary}): not judged."
    )
    assert store.active_id() == champion
    assert store.read_traffic() == Traffic(shadow=other)
    assert final_decisions(job) == ["shadowing", "kept"]


@pytest.mark.parametrize("activated", ["canary", "challenger"])
def test_a_champion_replaced_meanwhile_keeps_the_challenger_unjudged_and_ends_its_shadow(
    store, shadowing, activated
):
    champion, challenger, canary, _, _ = shadowing
    version = {"canary": canary, "challenger": challenger}[activated]
    store.activate(version)
    flush(challenger, champion, agreed=500, disagreed=0)

    final = shadow_promotion.check_shadowing(store)

    named = "the challenger itself" if activated == "challenger" else canary
    assert final["outcome"] == "kept"
    assert final["reason"] == (
        f"The active version is no longer the champion {champion} (it is {named}): not judged."
    )
    assert store.active_id() == version
    assert store.read_traffic().shadow is None


def test_two_checks_at_once_record_one_final_decision(store, shadowing):
    champion, challenger, _, job, _ = shadowing
    flush(challenger, champion, agreed=100, disagreed=0)
    together = threading.Barrier(2)
    found = []

    def check():
        together.wait()
        found.append(shadow_promotion.check_shadowing(store))

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(decision is None for decision in found) == [False, True]
    assert final_decisions(job) == ["shadowing", "promoted"]
