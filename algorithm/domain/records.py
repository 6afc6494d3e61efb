"""The shapes the domain hands to the serving process, the worker and the operator tools:
jobs, model manifests, metric records, metrics, monitoring outcomes and predictions.

TypedDicts rather than classes: each is a row of a table (psycopg2's RealDictCursor gives
dicts), a JSON document (a manifest on the volume, an accuracy in Redis) or both, and the
serving side turns them into algorithm.v1 messages with common.proto_json.from_json, which
reads any mapping. The keys are the column and JSON names, so the proto fields of the same
names are filled without a second mapping.
"""

import datetime
import uuid
from typing import Any, Literal, NotRequired, TypedDict

# An algorithm's hyper-parameters, resolved (ml.resolve_parameters): every one a number.
Parameters = dict[str, int | float]
JobKind = Literal["train", "evaluate"]


class LabelScores(TypedDict):
    precision: float
    recall: float
    f1: float
    support: int


class ConfusionMatrix(TypedDict):
    labels: list[str]
    rows: list[list[int]]


class Scores(TypedDict):
    """How a model's predictions compare with the true labels (ml.score)."""

    accuracy: float
    macro_f1: float
    per_label: dict[str, LabelScores]


class Metrics(Scores):
    """A job's outcome: the hold-out split's scores at training, with the rows on each side,
    or an evaluation's scores with its confusion matrix."""

    train_rows: NotRequired[int]
    test_rows: NotRequired[int]
    confusion_matrix: NotRequired[ConfusionMatrix]


class Job(TypedDict):
    """A row of the ``jobs`` table, as the API reports it."""

    id: uuid.UUID
    kind: JobKind
    state: str
    stage: str | None
    progress: float
    rows_read: int
    rows_total: int
    algorithm: str
    parameters: Parameters
    model_id: uuid.UUID | None
    metric_id: uuid.UUID | None
    metrics: Metrics | None
    error: str | None
    create_time: datetime.datetime
    start_time: datetime.datetime | None
    end_time: datetime.datetime | None
    # A challenger's training job: its version is promoted or kept by the promotion policy.
    promotion: bool


class DataSnapshot(TypedDict):
    """What identifies the rows of ``data`` a model was trained on."""

    rows: int
    # A version trained on rows from elsewhere (algorithm.tools.local_classifier) may know
    # only how many there were; one trained from a file (the command line) names the file.
    max_id: NotRequired[int | None]
    last_update: NotRequired[str | None]
    file: NotRequired[str]
    sha256: NotRequired[str]


class RuntimeCheck(TypedDict):
    """How the fast runtime compared with scikit-learn on a version's held-out texts at
    training (algorithm/domain/fast_scoring.py), and so which of them serves the version."""

    name: Literal["fast_linear", "scikit-learn"]
    texts_compared: int
    max_abs_difference: float
    labels_identical: bool
    # Why scikit-learn serves the version; empty when the fast runtime does.
    reason: str


class TrainingOutcome(TypedDict):
    """What training writes into a version's manifest; the store adds the rest."""

    # None for a version trained outside a job (algorithm.tools.local_classifier).
    job_id: str | None
    algorithm: str
    parameters: Parameters
    labels: list[str]
    row_count: int
    data_snapshot: DataSnapshot
    metrics: Metrics
    training_seconds: float
    # The version a retraining replaced (python -m algorithm.tools.ops retrain-stale).
    retrained_from: NotRequired[str]
    # Versions trained before the fast runtime existed lack it, and are served by scikit-learn.
    runtime: NotRequired[RuntimeCheck]
    # Versions trained before drift was measured lack it.
    reference_profile: NotRequired["ReferenceProfile"]
    # Versions trained while an evaluation set was current: their scores on its rows.
    evaluation: NotRequired["EvaluationSetMetrics"]


class Manifest(TrainingOutcome):
    """A version's manifest.json: its training outcome, files, libraries and signature.
    Versions written before a key was added lack it: readers use .get for those."""

    model_id: str
    files: dict[str, str]
    library_versions: dict[str, str]
    created_time: str
    signature: str


class EvaluationSet(TypedDict):
    """A row of ``evaluation_sets``, with what its rows hold now: the frozen rows every
    version is measured on and training leaves out."""

    id: uuid.UUID
    create_time: datetime.datetime
    retire_time: datetime.datetime | None
    method: Literal["fraction", "ids"]
    fraction: float | None
    stratified: bool
    seed: int
    new_rows_share: float
    synced_data_id: int
    # Rows when it was created; `rows` and `label_counts` count those still in `data` now.
    row_count: int
    rows: int
    label_counts: dict[str, int]


class EvaluationSetMetrics(TypedDict):
    """A version's scores on the rows of the evaluation set it was measured on."""

    set_id: str
    rows: int
    metrics: Metrics


class PromotionTrigger(TypedDict):
    # A challenger once this many rows were added to `data` since the last one; None: never.
    every_new_rows: int | None
    # A challenger at each tick of this cron expression (UTC); None: never.
    cron_expression: str | None


class PromotionPolicy(TypedDict):
    """When a challenger is trained, with what, and the rule that promotes it."""

    trigger: PromotionTrigger
    algorithm: str
    parameters: Parameters
    metric: Literal["accuracy", "macro_f1"]
    min_improvement: float
    max_recall_drop: float
    # The shadow rule (promotion.py): None (or, in a policy set before it, absent) is unused.
    min_shadow_agreement: NotRequired[float | None]
    # The challenger's shadow predictions compared before its agreement is judged.
    min_shadow_predictions: NotRequired[int]


class PromotionPolicyRecord(TypedDict):
    """The row of ``promotion_policy``."""

    policy: PromotionPolicy
    update_time: datetime.datetime
    # The every_new_rows trigger counts the data rows with a higher id than this.
    counted_from_id: int
    # When the last challenger was queued by the policy; the cron counts from it.
    last_trigger_time: datetime.datetime


class PromotionDecision(TypedDict):
    """A row of ``promotion_decisions``: which version answers, decided by a rule on evidence."""

    id: uuid.UUID
    create_time: datetime.datetime
    kind: Literal["promotion", "canary_rollback"]
    outcome: Literal["promoted", "kept", "rolled_back", "shadowing"]
    champion_id: uuid.UUID | None
    candidate_id: uuid.UUID | None
    job_id: uuid.UUID | None
    reason: str
    rule: dict[str, Any]
    evidence: dict[str, Any]


class MetricRecord(TypedDict):
    """A row of ``metric_records`` with its job's state: one evaluation of a version."""

    id: uuid.UUID
    model_id: uuid.UUID
    job_id: uuid.UUID
    source: Literal["data_table", "upload"]
    row_count: int
    metrics: Metrics | None
    create_time: datetime.datetime
    state: str
    error: str | None
    end_time: datetime.datetime | None


class StoredResult(TypedDict):
    """A batch of labelled outcomes once stored in ``results``."""

    id: int
    timestamp: datetime.datetime
    model_id: uuid.UUID
    samples: int


class Accuracy(TypedDict):
    """A model's accuracy as the periodic task computed it from its newest results row, kept
    in Redis as JSON; error says why there is none."""

    model_id: str
    accuracy: float | None
    samples: int
    result_id: int | None
    result_timestamp: str | None
    computed_time: str
    error: str | None


class ReferenceProfile(TypedDict):
    """What the hold-out set looked like to a version at training, the baseline its served
    predictions are compared with for drift (algorithm/domain/drift.py). Versions trained
    before it existed lack it, and report drift without a baseline."""

    texts: int
    # Shares of the hold-out texts by predicted and by true label, each summing to 1.
    predicted_label_shares: dict[str, float]
    true_label_shares: dict[str, float]
    mean_top_probability: float
    mean_text_chars: float
    # None for a vectorizer with no vocabulary (hashing), or a hold-out with no token at all.
    mean_oov_share: float | None


class TermContribution(TypedDict):
    term: str
    contribution: float


class LabelExplanation(TypedDict):
    """One label's decision value, taken apart: intercept + sum of the terms + rest."""

    label: str
    decision_value: float
    intercept: float
    terms: list[TermContribution]
    rest: float


class Explanation(TypedDict):
    """A prediction's explanation (algorithm/domain/explanations.py): the predicted label's and
    the runner-up's decisions, or, for a version with no exact one, why (unavailable)."""

    runtime: str
    predicted: LabelExplanation | None
    runner_up: LabelExplanation | None
    unavailable: str | None
