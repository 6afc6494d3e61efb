"""Traffic on the answer path of each serving process: which version answers a prediction
that names none (the canary's share, sticky by reference, else caller), the answers and
errors counted per version for the rollback check, and the shadow, which scores a sample of
the champion's texts after the answer, gathered by a thread of its own and scored in a
process of its own (algorithm/serving/shadow_scoring.py), within a bounded queue and a budget
of texts a second, so that it never delays an answer nor takes more than its budget.
"""

import collections
import datetime
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from algorithm.domain import traffic_counts
from algorithm.domain.errors import ServiceError
from algorithm.serving.metrics import PREDICTION_ERRORS, SHADOW_PREDICTIONS
from algorithm.serving.model_repository import ModelRepository
from algorithm.serving.shadow_scoring import ScoringFailed, ScoringProcess
from common.coalescing import Origin

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
# How long the shadow's thread lets texts gather once the first arrives before scoring them
# in one call: each batch costs a wake-up and a round trip to the scoring process besides its
# texts (in process, one text a millisecond: 0.058 ms of CPU a text at 0.05 s, 0.040 at
# 0.25 s). Agreement is recorded this much later, off the answer path.
LINGER_SECONDS = 0.25
# A scoring process given no text for this long is stopped (the shadow was unset, or the
# champion changed): it holds a version in memory.
IDLE_SECONDS = 60.0
WARNING_SECONDS = 60.0
# Labels of a version for texts: the scoring process's, or another in tests.
Scorer = Callable[[str, list[str]], list[str]]


def route(repository: ModelRepository, reference: str, caller: str) -> str:
    """The version that answers a prediction naming none: the canary's id for its share,
    else "" (the active version). The same reference, else caller, always gets the same
    answer while the canary stays; with neither, each prediction is drawn at random. A canary
    refused at load is counted as erring for each prediction routed to it, which the active
    version answers instead."""
    canary = repository.traffic.canary
    if canary is None:
        return ""
    key = reference or caller
    if not (canary.routes(key) if key else random.random() * 100 < canary.percent):
        return ""
    if repository.traffic_model(canary.model_id) is None:
        counts.add(canary.model_id, 1, 1)
        PREDICTION_ERRORS.labels(canary.model_id).inc()
        return ""
    return canary.model_id


def shares(repository: ModelRepository) -> list[tuple[str, str, float]]:
    """(model_id, role, share) of each version the split names, and of the active one."""
    split, active_id = repository.traffic, repository.active_id()
    canary = split.canary.percent / 100 if split.canary else 0.0
    found = [(active_id, "champion", 1 - canary)] if active_id else []
    if split.canary:
        found.append((split.canary.model_id, "canary", canary))
    if split.shadow:
        found.append((split.shadow.model_id, "shadow", split.shadow.share))
    return found


class Counts:
    """Answers and errors per version and minute, and shadow comparisons per pair of labels,
    added up in memory and written every FLUSH_SECONDS by a thread of each process; a write
    that fails is dropped and logged (the rollback check then judges on fewer answers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: collections.Counter[tuple[str, datetime.datetime]] = collections.Counter()
        self._errors: collections.Counter[tuple[str, datetime.datetime]] = collections.Counter()
        self._pairs: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
        self._pid: int | None = None

    def add(self, model_id: str, answers: int, errors: int = 0) -> None:
        minute = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
        with self._lock:
            self._answers[model_id, minute] += answers
            if errors:
                self._errors[model_id, minute] += errors

    def compared(self, shadow_id: str, champion_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            for champion_label, shadow_label in pairs:
                self._pairs[shadow_id, champion_id, champion_label, shadow_label] += 1

    def start(self) -> None:
        """Start this process's flushing thread (idempotent; threads do not survive a fork)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        threading.Thread(target=self._flush_forever, name="traffic-counts", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            answers, self._answers = self._answers, collections.Counter()
            errors, self._errors = self._errors, collections.Counter()
            pairs, self._pairs = self._pairs, collections.Counter()
        try:
            if answers:
                traffic_counts.counts_add(
                    (model_id, minute, count, errors[model_id, minute])
                    for (model_id, minute), count in answers.items()
                )
            if pairs:
                traffic_counts.agreement_add((*key, count) for key, count in pairs.items())
        except (ServiceError, OSError) as error:
            logger.warning("Traffic counts of the last second were not written: %s", error)


counts = Counts()


class _Sample(NamedTuple):
    champion_id: str
    texts: list[str]
    labels: list[str]
    # What the prediction log needs to record the predictions once compared.
    record: Callable[[str, list[str]], None]


class TokenBucket:
    """At most `rate` takes a second, in bursts of at most one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self._rate = rate
        self._clock = clock
        self._tokens = rate
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, count: int) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < count:
                return False
            self._tokens -= count
            return True


class Shadow:
    """The shadow's waiting texts and thread in one process. `offer` is on the answer path:
    it only samples and appends under a lock, waking the thread for the first text of a
    batch; the thread takes the budget, so a prediction never waits nor pays for it."""

    def __init__(
        self,
        repository: ModelRepository,
        *,
        queue_size: int,
        texts_per_second: float,
        scorer: Scorer | None = None,
    ):
        self._repository = repository
        self._given_scorer = scorer
        self._process: ScoringProcess | None = None
        # Texts the scorer failed since the last warning, which the shadow's thread alone logs.
        self._unscored, self._warned_at = 0, -math.inf
        self._queue_size = queue_size
        self._budget = TokenBucket(texts_per_second)
        self._lock = threading.Lock()
        self._samples: list[_Sample] = []
        # Texts offered and not yet scored (the bound is in texts; a sample holds a batch).
        self._waiting = 0
        self._arrived = threading.Event()
        self._pid: int | None = None

    def sample(self, champion_id: str, count: int) -> list[int]:
        """The indexes of a batch's texts the shadow should score, by its share; none when no
        shadow is set or the champion is not the active version."""
        shadow = self._repository.traffic.shadow
        if shadow is None or champion_id != self._repository.active_id():
            return []
        if shadow.model_id == champion_id:
            return []
        if shadow.share >= 1:
            return list(range(count))
        return [index for index in range(count) if random.random() < shadow.share]

    def offer(
        self,
        champion_id: str,
        texts: list[str],
        labels: list[str],
        record: Callable[[str, list[str]], None],
    ) -> bool:
        """Queue sampled texts for the shadow; False (counted as skipped) if the queue is full:
        the caller then logs them as it would without a shadow."""
        count = len(texts)
        with self._lock:
            room = self._pid == os.getpid() and self._waiting + count <= self._queue_size
            if room:
                self._waiting += count
                self._samples.append(_Sample(champion_id, texts, labels, record))
                if len(self._samples) == 1:
                    self._arrived.set()
        if not room:
            SHADOW_PREDICTIONS.labels("skipped").inc(count)
        return room

    def start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._samples, self._waiting = [], 0
            self._arrived = threading.Event()
            # A process inherited through fork belongs to the parent.
            self._process = (
                None if self._given_scorer else ScoringProcess(self._repository.store.root)
            )
        threading.Thread(target=self._score_forever, name="shadow", daemon=True).start()

    def _score_forever(self) -> None:
        while True:
            if not self._arrived.wait(IDLE_SECONDS):
                if self._process is not None:
                    self._process.close()
                continue
            time.sleep(LINGER_SECONDS)
            with self._lock:
                samples, self._samples = self._samples, []
                self._arrived.clear()
            count = sum(len(sample.texts) for sample in samples)
            budgeted: list[_Sample] = []
            skipped: list[_Sample] = []
            for sample in samples:
                (budgeted if self._budget.take(len(sample.texts)) else skipped).append(sample)
            try:
                self._score(budgeted, skipped)
            except Exception:
                logger.exception("The shadow failed to score %d texts", count)
                SHADOW_PREDICTIONS.labels("skipped").inc(count)
            finally:
                with self._lock:
                    self._waiting -= count

    def _score(self, budgeted: list[_Sample], skipped: list[_Sample]) -> None:
        """Score the samples within the budget in one call; log the others (and all of them
        if the shadow is gone) as without a shadow."""
        shadow = self._repository.traffic.shadow
        model = self._repository.traffic_model(shadow.model_id) if shadow else None
        texts = [text for sample in budgeted for text in sample.texts]
        shadow_labels: list[str] = []
        if model is not None and texts:
            try:
                shadow_labels = self._labels(model.model_id, texts)
            except ScoringFailed as error:
                self._warn(len(texts), error)
        if not shadow_labels:
            budgeted, skipped = [], budgeted + skipped
        if skipped:
            SHADOW_PREDICTIONS.labels("skipped").inc(sum(len(s.texts) for s in skipped))
            for sample in skipped:
                sample.record("", [])
        if model is None or not budgeted:
            return
        agreed = start = 0
        for sample in budgeted:
            labels = shadow_labels[start : start + len(sample.texts)]
            start += len(sample.texts)
            pairs = list(zip(sample.labels, labels, strict=True))
            agreed += sum(1 for champion, other in pairs if champion == other)
            counts.compared(model.model_id, sample.champion_id, pairs)
            sample.record(model.model_id, labels)
        SHADOW_PREDICTIONS.labels("agree").inc(agreed)
        SHADOW_PREDICTIONS.labels("disagree").inc(len(texts) - agreed)

    def _warn(self, count: int, error: ScoringFailed) -> None:
        """Log a failure at most once a WARNING_SECONDS: one that lasts fails every batch."""
        self._unscored += count
        if time.monotonic() - self._warned_at < WARNING_SECONDS:
            return
        logger.warning(
            "The shadow did not score %d texts (skipped, logged without a shadow): %s; the "
            "next warning comes in %g s at the earliest.",
            self._unscored,
            error,
            WARNING_SECONDS,
        )
        self._unscored, self._warned_at = 0, time.monotonic()

    def _labels(self, model_id: str, texts: list[str]) -> list[str]:
        if self._given_scorer is not None:
            return self._given_scorer(model_id, texts)
        assert self._process is not None, "started"
        return self._process.labels(model_id, texts)


def route_batch(repository: ModelRepository, origins: Sequence[Origin]) -> str:
    """route for a call answered by one version: by its first non-empty reference, else its
    first caller."""
    reference = next((origin.reference for origin in origins if origin.reference), "")
    caller = next((origin.caller for origin in origins if origin.caller), "")
    return route(repository, reference, caller)
