"""The worker's Celery application: the job queue's app (algorithm.jobqueue) with the task
bodies registered, a transport that survives losing Redis, and the project's logging.

Start a worker with ``celery -A worker.app worker``, the scheduler with
``celery -A worker.app beat``.
"""

import sys

from celery.signals import setup_logging, worker_ready

from algorithm.jobqueue import app
from common.logs import configure_logging

app.conf.update(broker_transport="worker.broker:Transport")


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    # Connecting here replaces Celery's own logging setup with the project's.
    configure_logging("scheduler" if "beat" in sys.argv else "worker")


@worker_ready.connect
def _start_recovery(**_kwargs) -> None:
    from worker import recovery

    recovery.start()


# Registers the task bodies on the app under the queue's names.
import worker.tasks  # noqa: E402, F401
