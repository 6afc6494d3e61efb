"""The metrics endpoint's live accuracy gauges: the active version's and recent ones', beside
their hold-out accuracy, computed at most once per interval, left out while the database
fails."""

import logging
import threading
import time
import urllib.parse

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from algorithm import settings
from algorithm.domain import db
from algorithm.serving import live_accuracy_metrics
from algorithm.serving.live_accuracy_metrics import LiveAccuracyCollector
from common import settings as common_settings


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def scrape(store, publish, monkeypatch):
    """Scrapes a collector for the active version of a store (its clock: scrape.clock)."""
    monkeypatch.setattr(settings, "LIVE_ACCURACY_CACHE_SECONDS", 60)
    active = publish()
    store.activate(active)
    clock = Clock()
    registry = CollectorRegistry()
    registry.register(LiveAccuracyCollector(store, store.active_id, clock=clock))

    def scraped() -> list[str]:
        return [
            line
            for line in generate_latest(registry).decode().splitlines()
            if not line.startswith("#")
        ]

    scraped.clock = clock  # type: ignore[attr-defined]
    scraped.active = active  # type: ignore[attr-defined]
    return scraped


def test_the_active_version_has_its_live_and_holdout_accuracy(scrape, feedback, tiny_model):
    active = scrape.active
    feedback("ham", "ham", model_id=active)
    feedback("ham", "spam", model_id=active)

    holdout = tiny_model.metrics["accuracy"]
    assert scrape() == [
        f'textclf_live_accuracy{{model_id="{active}",window="rows"}} 0.5',
        f'textclf_live_accuracy{{model_id="{active}",window="days"}} 0.5',
        f'textclf_live_feedback{{model_id="{active}",window="rows"}} 2.0',
        f'textclf_live_feedback{{model_id="{active}",window="days"}} 2.0',
        f'textclf_holdout_accuracy{{model_id="{active}"}} {float(holdout)!r}',
    ]


def test_figures_are_computed_once_per_interval(scrape, feedback):
    active = scrape.active
    feedback("ham", "ham", model_id=active)
    first = scrape()
    feedback("ham", "spam", model_id=active)

    scrape.clock.now += 59
    assert scrape() == first
    scrape.clock.now += 1
    assert f'textclf_live_accuracy{{model_id="{active}",window="rows"}} 0.5' in scrape()


def test_a_failing_database_leaves_the_gauges_out_and_is_logged_once(
    scrape, database_url, monkeypatch, caplog
):
    port_nothing_listens_on = urllib.parse.urlsplit(database_url)._replace(netloc="127.0.0.1:1")
    monkeypatch.setattr(common_settings, "DATABASE_URL", port_nothing_listens_on.geturl())
    monkeypatch.setattr(db, "_pool", None)

    with caplog.at_level(logging.WARNING, logger="algorithm"):
        assert scrape() == []
        scrape.clock.now += 60
        assert scrape() == []

    left_out = [r for r in caplog.records if "Live accuracy left out" in r.getMessage()]
    assert len(left_out) == 1


def test_a_database_that_hangs_never_holds_the_scrape(scrape, feedback, monkeypatch):
    """The figures last computed answer while a query hangs, within SCRAPE_WAIT_SECONDS."""
    active = scrape.active
    feedback("ham", "ham", model_id=active)
    first = scrape()
    released = threading.Event()
    computed = live_accuracy_metrics.live_accuracy

    def hanging(*args, **kwargs):
        released.wait(30)
        return computed(*args, **kwargs)

    monkeypatch.setattr(live_accuracy_metrics, "live_accuracy", hanging)
    scrape.clock.now += 60
    started = time.monotonic()
    try:
        assert scrape() == first
        assert scrape() == first
        assert time.monotonic() - started < 4 * live_accuracy_metrics.SCRAPE_WAIT_SECONDS
    finally:
        released.set()
