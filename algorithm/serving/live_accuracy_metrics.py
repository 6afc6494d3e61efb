"""Live accuracy as Prometheus gauges on the gRPC server's metrics endpoint, for the active
version and every version with feedback in the days window (algorithm/domain/live_accuracy.py),
each beside its hold-out accuracy, so that an alert rule can compare the two.

Computed when scraped, at most once every LIVE_ACCURACY_CACHE_SECONDS whatever the number of
scrapers: the figures cost a query over the feedback. The query runs in a thread of its own,
and a scrape waits for it at most SCRAPE_WAIT_SECONDS: a database that hangs (or is slow)
never holds the metrics endpoint, whose scrape then carries the figures last computed. A
database that fails leaves the gauges out (the rest of the scrape answers) and is logged
once until it answers again.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator

import psycopg2
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from algorithm import settings
from algorithm.domain import db
from algorithm.domain.errors import ServiceError
from algorithm.domain.live_accuracy import live_accuracy
from algorithm.domain.store import ModelIntegrityError, ModelStore

logger = logging.getLogger(__name__)

# The window label's values.
ROWS, DAYS = "rows", "days"
# How long a scrape waits for figures being computed, far under a scraper's timeout.
SCRAPE_WAIT_SECONDS = 1.0


class LiveAccuracyCollector(Collector):
    def __init__(
        self,
        store: ModelStore,
        active: Callable[[], str | None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._active = active
        self._clock = clock
        self._lock = threading.Lock()
        self._computed_at: float | None = None
        self._families: list[Metric] = []
        self._failing = False
        self._computing: threading.Thread | None = None

    def collect(self) -> Iterator[Metric]:
        # Scrapes at once share the one computation: one query per interval.
        with self._lock:
            stale = (
                self._computed_at is None
                or self._clock() - self._computed_at >= settings.LIVE_ACCURACY_CACHE_SECONDS
            )
            if stale and self._computing is None:
                self._computing = threading.Thread(
                    target=self._refresh, name="live-accuracy", daemon=True
                )
                self._computing.start()
            computing = self._computing
        if computing is not None:
            computing.join(SCRAPE_WAIT_SECONDS)
        with self._lock:
            families = list(self._families)
        yield from families

    def _refresh(self) -> None:
        families = self._compute()
        with self._lock:
            self._families, self._computed_at = families, self._clock()
            self._computing = None

    def _compute(self) -> list[Metric]:
        active = self._active()
        try:
            found = live_accuracy([active] if active else [], with_recent=True)
        except (*db.LOST, psycopg2.Error) as error:
            if not self._failing:
                logger.warning("Live accuracy left out of the metrics: %s", error)
            self._failing = True
            return []
        if self._failing:
            logger.info("Live accuracy is back in the metrics")
        self._failing = False
        accuracy = GaugeMetricFamily(
            "textclf_live_accuracy",
            "A model version's accuracy on the feedback its predictions got, by window: its "
            "newest LIVE_ACCURACY_WINDOW_ROWS feedback rows (rows) or the last "
            "LIVE_ACCURACY_WINDOW_DAYS days (days); absent without feedback.",
            labels=["model_id", "window"],
        )
        feedback = GaugeMetricFamily(
            "textclf_live_feedback",
            "Feedback rows behind textclf_live_accuracy.",
            labels=["model_id", "window"],
        )
        holdout = GaugeMetricFamily(
            "textclf_holdout_accuracy",
            "A model version's hold-out accuracy at training.",
            labels=["model_id"],
        )
        for model_id, figures in sorted(found.items()):
            for window, figures_in in ((ROWS, figures.last_rows), (DAYS, figures.last_days)):
                feedback.add_metric([model_id, window], figures_in.feedback)
                if figures_in.accuracy is not None:
                    accuracy.add_metric([model_id, window], figures_in.accuracy)
            try:
                manifest = self._store.read_manifest(model_id)
            except (ServiceError, ModelIntegrityError):
                continue  # a deleted or unreadable version: no hold-out figure to compare
            holdout.add_metric([model_id], manifest["metrics"]["accuracy"])
        return [accuracy, feedback, holdout]
