"""The worker's Celery application: the job queue's app (algorithm.jobqueue) with the task
bodies registered, a transport that survives losing Redis, and the project's logging.

Start a worker with ``celery -A worker.app worker``, the scheduler with
``celery -A worker.app beat``.
"""

import sys

from celery.signals import after_task_publish, beat_init, setup_logging, worker_ready

from algorithm.jobqueue import app
from common import metrics
from common.logs import configure_logging

app.conf.update(broker_transport="worker.broker:Transport")


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    # Connecting here replaces Celery's own logging setup with the project's.
    configure_logging("scheduler" if "beat" in sys.argv else "worker")


@worker_ready.connect
def _start_recovery(**_kwargs) -> None:
    from worker import recovery
    from worker.metrics import QueueAndAccuracyCollector

    recovery.start()
    metrics.serve_if_first(QueueAndAccuracyCollector())


@beat_init.connect
def _serve_scheduler_metrics(**_kwargs) -> None:
    from worker.metrics import SCHEDULER_TICKS_SENT

    def count(sender: str, **_kwargs) -> None:
        SCHEDULER_TICKS_SENT.labels(sender).inc()

    # Only here: workers publish too (jobs sent again), and those are not ticks.
    after_task_publish.connect(count, weak=False)
    metrics.serve_if_first()


# Registers the task bodies on the app under the queue's names.
import worker.tasks  # noqa: E402, F401
