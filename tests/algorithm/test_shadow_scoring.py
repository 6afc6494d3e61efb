"""The shadow's scoring process: the labels the version gives in this process; a version it
cannot load, a child that ended or stopped answering cost one batch, never a hang; and the
child ends with its parent."""

import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid

import pytest

from algorithm.domain.traffic import Shadow, Traffic
from algorithm.serving import traffic
from algorithm.serving.model_repository import ModelRepository
from algorithm.serving.shadow_scoring import ScoringFailed, ScoringProcess
from common.launch import process_stat
from tests.support import read_tsv, wait_until

TEXTS = [row["text"] for row in read_tsv("confirmation_tr.tsv")]


@pytest.fixture
def scoring(store):
    process = ScoringProcess(store.root, reply_seconds=20)
    yield process
    process.close()


def _ended(pid):
    """Gone, or a zombie its parent has not yet waited for."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _in_process(store, model_id):
    return [label for label, _ in store.load(model_id).predict(TEXTS)]


def test_the_labels_are_the_versions_own_and_a_new_version_is_loaded_when_asked(
    scoring, store, publish
):
    first, second = publish(), publish()
    assert scoring.labels(first, TEXTS) == _in_process(store, first)
    pid = scoring.pid
    assert scoring.labels(second, TEXTS[:3]) == _in_process(store, second)[:3]
    assert scoring.pid == pid, "one child serves every batch"


def test_a_version_it_cannot_load_fails_the_batch_and_the_next_one_is_scored(
    scoring, store, publish
):
    missing = str(uuid.uuid4())
    with pytest.raises(ScoringFailed, match=f"{missing} could not score"):
        scoring.labels(missing, TEXTS)
    model_id = publish()
    assert scoring.labels(model_id, TEXTS) == _in_process(store, model_id)


def test_a_child_killed_between_batches_is_replaced(scoring, store, publish):
    model_id = publish()
    scoring.labels(model_id, TEXTS)
    killed = scoring.pid
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: _ended(killed), 5, "the killed child to end")
    assert scoring.labels(model_id, TEXTS) == _in_process(store, model_id)
    assert scoring.pid != killed


def test_a_child_that_stops_answering_fails_the_batch_within_its_bound_and_is_stopped(
    scoring, store, publish
):
    model_id = publish()
    scoring.labels(model_id, TEXTS)
    stopped = scoring.pid
    os.kill(stopped, signal.SIGSTOP)
    scoring.reply_seconds = 1
    started = time.monotonic()
    with pytest.raises(ScoringFailed, match="no answer in 1 s"):
        scoring.labels(model_id, TEXTS)
    assert time.monotonic() - started < 5
    assert process_stat(stopped) is None, "the stopped child was killed and reaped"
    scoring.reply_seconds = 20  # the next child loads the version again
    assert scoring.labels(model_id, TEXTS) == _in_process(store, model_id)


def test_the_child_ends_with_its_parent(store, publish):
    model_id = publish()
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, pathlib, sys\n"
            "from algorithm.serving.shadow_scoring import ScoringProcess\n"
            f"scoring = ScoringProcess(pathlib.Path({str(store.root)!r}), reply_seconds=20)\n"
            f"scoring.labels({model_id!r}, ['merhaba'])\n"
            "print(scoring.pid, flush=True)\n"
            "os.kill(os.getpid(), 9)\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout)
    wait_until(lambda: process_stat(child) is None, 10, "the orphaned scoring process to end")


def test_the_shadow_records_the_scoring_processs_labels(store, publish):
    champion, candidate = publish(), publish()
    store.activate(champion)
    repository = ModelRepository(store, poll_seconds=3600, cache_size=4)
    repository.refresh()
    repository.traffic = Traffic(shadow=Shadow(candidate, 1.0, "2026-01-01T00:00:00+00:00"))
    shadow = traffic.Shadow(repository, queue_size=100, texts_per_second=1000)
    shadow.start()
    recorded = []
    assert shadow.offer(champion, TEXTS, ["x"] * len(TEXTS), lambda *r: recorded.append(r))
    wait_until(lambda: recorded, 30, "the shadow's record")
    assert recorded == [(candidate, _in_process(store, candidate))]
