"""The Celery application: Redis broker, JSON only, reliability settings spelled out.

Start a worker with ``celery -A worker.app worker``.
"""

import sys

from celery import Celery
from celery.signals import setup_logging, worker_ready

from algorithm import settings
from algorithm.logs import configure_logging

# Longest a job may run. The broker redelivers an unacknowledged task only after a longer
# visibility timeout; a job whose worker died is sent again much sooner by the jobs table's
# lease (worker.recovery), and a redelivery of a job still running elsewhere does nothing.
JOB_TIME_LIMIT_SECONDS = 2 * 60 * 60

app = Celery("textclf", include=["worker.tasks"])
app.conf.update(
    broker_url=settings.REDIS_URL,
    broker_transport="worker.broker:Transport",
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    broker_transport_options={
        "visibility_timeout": JOB_TIME_LIMIT_SECONDS + 10 * 60,
        "global_keyprefix": settings.REDIS_KEY_PREFIX,
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
    },
    # Job state lives in the jobs table; Celery's own results would only duplicate it.
    task_ignore_result=True,
    result_expires=None,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=JOB_TIME_LIMIT_SECONDS,
    task_soft_time_limit=JOB_TIME_LIMIT_SECONDS - 60,
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
    # Schedules live in Redis through RedBeat, so they survive restarts and any number of
    # scheduler processes agree on one lock holder.
    beat_scheduler="redbeat.RedBeatScheduler",
    # Spelled out, not inherited from the broker settings: the scheduler could use another
    # Redis (REDBEAT_REDIS_URL), and its keys must carry the deployment's prefix.
    redbeat_redis_url=settings.REDBEAT_REDIS_URL,
    # Its own timeouts, never the broker's transport options (which carry a key prefix
    # RedBeat must not apply a second time).
    redbeat_redis_options={"socket_connect_timeout": 3, "socket_timeout": 5},
    redbeat_key_prefix=f"{settings.REDIS_KEY_PREFIX}redbeat:",
    redbeat_lock_key=f"{settings.REDIS_KEY_PREFIX}redbeat::lock",
    beat_max_loop_interval=5,
)


@setup_logging.connect
def _configure_logging(**_kwargs) -> None:
    # Connecting here replaces Celery's own logging setup with the project's.
    configure_logging("scheduler" if "beat" in sys.argv else "worker")


@worker_ready.connect
def _start_recovery(**_kwargs) -> None:
    from worker import recovery

    recovery.start()
