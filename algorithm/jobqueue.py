"""The job queue: the Celery app's configuration, the names of the tasks, and `enqueue_job`.

The algorithm service sends tasks by name and never imports their bodies; the worker
(``worker/``) registers the bodies under these names on this same app and runs them. Import
this module only where a job is queued or a schedule written, so that the serving paths
never pay for Celery's import.
"""

import logging

from celery import Celery
from celery.schedules import crontab

from algorithm import settings
from algorithm.domain import jobs
from algorithm.domain.errors import Unavailable
from algorithm.domain.records import Job
from common import settings as common_settings

# The names are the wire format in Redis: queued tasks and RedBeat schedules carry them.
TRAIN_TASK = "worker.tasks.train"
EVALUATE_TASK = "worker.tasks.evaluate"
COMPUTE_ACCURACY_TASK = "worker.tasks.compute_accuracy"
PURGE_EXPIRED_TASK = "worker.tasks.purge_expired"
PROMOTION_CHECK_TASK = "worker.tasks.promotion_check"
CHECK_TRAFFIC_TASK = "worker.tasks.check_traffic"
# Monitoring ticks have a queue and a worker of their own (the Procfile's algorithm_monitor),
# so however many schedules fire, a training job never waits behind them. Training and
# evaluations stay on Celery's default queue, where jobs queued before this split still are.
MONITORING_QUEUE = "monitoring"

# Longest a job may run. The broker redelivers an unacknowledged task only after a longer
# visibility timeout; a job whose worker died is sent again much sooner by the jobs table's
# lease (worker.recovery), and a redelivery of a job still running elsewhere does nothing.
JOB_TIME_LIMIT_SECONDS = 2 * 60 * 60

logger = logging.getLogger(__name__)

app = Celery("textclf")
app.conf.update(
    broker_url=common_settings.REDIS_URL,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    broker_transport_options={
        "visibility_timeout": JOB_TIME_LIMIT_SECONDS + 10 * 60,
        "global_keyprefix": common_settings.REDIS_KEY_PREFIX,
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
    task_routes={
        COMPUTE_ACCURACY_TASK: {"queue": MONITORING_QUEUE},
        PURGE_EXPIRED_TASK: {"queue": MONITORING_QUEUE},
        PROMOTION_CHECK_TASK: {"queue": MONITORING_QUEUE},
        CHECK_TRAFFIC_TASK: {"queue": MONITORING_QUEUE},
    },
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
    redbeat_key_prefix=f"{common_settings.REDIS_KEY_PREFIX}redbeat:",
    redbeat_lock_key=f"{common_settings.REDIS_KEY_PREFIX}redbeat::lock",
    beat_max_loop_interval=5,
    # Retention (algorithm/domain/retention.py), daily at a quiet hour; the promotion
    # policy's trigger (algorithm/domain/promotion.py), each tick dropped if not taken before
    # the next one is due; the canary's rollback check (algorithm/domain/canary_rollback.py),
    # every TRAFFIC_CHECK_SECONDS: with no canary set it reads one small file and stops.
    beat_schedule={
        "purge-expired": {"task": PURGE_EXPIRED_TASK, "schedule": crontab(minute=30, hour=3)},
        "promotion-check": {
            "task": PROMOTION_CHECK_TASK,
            "schedule": settings.PROMOTION_CHECK_SECONDS,
            "options": {"expires": settings.PROMOTION_CHECK_SECONDS},
        },
        "check-traffic": {"task": CHECK_TRAFFIC_TASK, "schedule": settings.TRAFFIC_CHECK_SECONDS},
    },
)


def enqueue(task_name: str, *args: str) -> None:
    """Send a task by name; raises what the broker raises when Redis cannot be reached."""
    app.send_task(task_name, args=list(args))


def enqueue_job(job: Job) -> None:
    """Send a queued job (train or evaluate) to the workers; if Redis cannot take it, the job
    is marked failed with a message saying so, and Unavailable is raised."""
    name = {"train": TRAIN_TASK, "evaluate": EVALUATE_TASK}[job["kind"]]
    try:
        enqueue(name, str(job["id"]))
    except Exception as error:
        jobs.job_fail(job["id"], error=f"Could not queue the job: {error}")
        logger.error("Could not queue job %s: %s", job["id"], error)
        raise Unavailable(
            "The job queue (Redis) is unavailable; nothing was queued. Try again shortly."
        ) from error
