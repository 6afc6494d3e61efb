"""Queue again the jobs whose worker died.

Celery on Redis gives a killed worker's task back only after the broker's visibility
timeout (hours, see algorithm.jobqueue). Instead every worker looks, every half lease, for running
jobs nobody touched for JOB_LEASE_SECONDS and sends them again; one UPDATE decides, so
with several workers each job is sent once.
"""

import logging
import threading
import time

from algorithm import settings
from algorithm.domain import db, jobs
from algorithm.domain.errors import Unavailable
from algorithm.jobqueue import enqueue_job

logger = logging.getLogger(__name__)


def requeue_orphaned_jobs() -> None:
    for job in jobs.requeue_orphaned():
        try:
            enqueue_job(job)
        except Unavailable:
            # enqueue failed the job with a message saying so.
            continue
        logger.warning("Queued job %s again: its worker stopped", job["id"])


def _watch() -> None:
    while True:
        try:
            requeue_orphaned_jobs()
        except db.LOST as error:
            logger.warning("Could not look for jobs that lost their worker: %s", error)
        except Exception:
            logger.exception("Looking for jobs that lost their worker failed")
        time.sleep(settings.JOB_LEASE_SECONDS / 2)


_started = threading.Event()


def start() -> None:
    """Start looking in this process (once, however often the worker says it is ready)."""
    if not _started.is_set():
        _started.set()
        threading.Thread(target=_watch, name="orphaned-job-watcher", daemon=True).start()
