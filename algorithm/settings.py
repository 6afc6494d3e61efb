"""The algorithm service's and the worker's own configuration, read once from the
environment by common.settings' rule (unset or empty means the default). What web needs too
is in common.settings, and the limits in common.limits."""

import os

from common import limits
from common.settings import (
    REDIS_URL,
    env,
    env_choice,
    env_fraction,
    env_int,
    env_int_between,
    env_path,
    env_switch,
)

# Where RedBeat keeps the schedules; the broker's Redis unless set.
REDBEAT_REDIS_URL = env("REDBEAT_REDIS_URL", REDIS_URL)
MODEL_DIR = env_path("MODEL_DIR", "var/models")

# The Flask shim's gunicorn processes, and threads in each (algorithm/serving/gunicorn.conf.py).
HTTP_WORKERS = env_int("ALGORITHM_HTTP_WORKERS", 2)
HTTP_THREADS = env_int("ALGORITHM_HTTP_THREADS", 4)

# At most one per core of the largest machines.
MAX_GRPC_PROCESSES = 256
# gRPC server processes in a replica, on one port (algorithm/serving/grpc_processes.py): each
# has its own interpreter lock, so a replica uses as many cores as it has processes. By default
# one per CPU this process may run on; a container's CPU limit is not seen here, so deployments
# set it.
GRPC_PROCESSES = env_int_between(
    "ALGORITHM_GRPC_PROCESSES", len(os.sched_getaffinity(0)), 1, MAX_GRPC_PROCESSES
)
# Threads of each gRPC server process.
GRPC_THREADS = env_int("ALGORITHM_GRPC_THREADS", 16)
# Calls each gRPC server process holds at once, running or waiting for a thread; one more is
# refused at once with RESOURCE_EXHAUSTED instead of waiting in a queue without bound.
# Non-blocking calls (health's Watch) hold no thread and do not count.
GRPC_MAX_CONCURRENT_RPCS = env_int("ALGORITHM_GRPC_MAX_CONCURRENT_RPCS", 4 * GRPC_THREADS)
if GRPC_MAX_CONCURRENT_RPCS <= GRPC_THREADS:
    raise ValueError(
        f"ALGORITHM_GRPC_MAX_CONCURRENT_RPCS ({GRPC_MAX_CONCURRENT_RPCS}) must be above "
        f"ALGORITHM_GRPC_THREADS ({GRPC_THREADS}): calls beyond the threads wait for one."
    )

# How often a serving process looks for a newly activated model version.
ACTIVE_MODEL_POLL_SECONDS = float(env("ACTIVE_MODEL_POLL_SECONDS", "0.25"))
# Model versions kept loaded besides the active one, for predictions that name a version.
MODEL_CACHE_SIZE = env_int("MODEL_CACHE_SIZE", 4)

# Whether this serving process scores with the fast runtime the versions whose training-time
# comparison passed (algorithm/domain/fast_scoring.py); off serves every one with scikit-learn.
FAST_SCORER = env_switch("ALGORITHM_FAST_SCORER", True)
# Terms an explanation names per label (algorithm/domain/explanations.py); the others are
# summed in its `rest`.
EXPLAIN_TOP_TERMS = env_int_between("EXPLAIN_TOP_TERMS", 10, 1, limits.MAX_EXPLAIN_TOP_TERMS)

# The one model name the Open Inference Protocol serves (algorithm/serving/services/inference.py).
INFERENCE_MODEL_NAME = env("INFERENCE_MODEL_NAME", "textclf")

# Database work in a request must fail fast, never hang (statements: common.settings).
DB_CONNECT_TIMEOUT_SECONDS = 3
# A running job's worker touches the job's row several times within this; a row left
# untouched for longer belongs to a worker that died, and the job is queued again.
JOB_LEASE_SECONDS = float(env("JOB_LEASE_SECONDS", "60"))
# Days a finished job, and a posted results row, are kept; 0 keeps them forever. What is still
# in use is kept whatever its age (algorithm/domain/retention.py).
JOB_RETENTION_DAYS = env_int("JOB_RETENTION_DAYS", 90)
RESULT_RETENTION_DAYS = env_int("RESULT_RETENTION_DAYS", 90)
# How often the scheduler asks whether the promotion policy's trigger is due (new rows, cron).
PROMOTION_CHECK_SECONDS = env_int_between("PROMOTION_CHECK_SECONDS", 60, 1, 86_400)
# Times a job may be taken by a worker before a dying worker fails it instead.
JOB_MAX_ATTEMPTS = 3

# The prediction log (algorithm/domain/prediction_log.py): what the serving processes record
# of their predictions in web's `predictions` table. Uncertain predictions (top probability
# below UNCERTAIN_BELOW, or top minus runner-up below MARGIN_BELOW; 0 turns the margin's test
# off) are always kept, a SAMPLE_RATE share of the rest; each with its text in full, as a
# keyed hash, or not at all. Full texts past TEXT_BYTES_PER_MINUTE in a minute (per process)
# are kept as hashes instead, so that no caller fills the disk through the log.
PREDICTION_LOG = env_switch("PREDICTION_LOG", True)
PREDICTION_LOG_UNCERTAIN_BELOW = env_fraction("PREDICTION_LOG_UNCERTAIN_BELOW", 0.6)
PREDICTION_LOG_MARGIN_BELOW = env_fraction("PREDICTION_LOG_MARGIN_BELOW", 0.0)
PREDICTION_LOG_SAMPLE_RATE = env_fraction("PREDICTION_LOG_SAMPLE_RATE", 0.1)
PREDICTION_LOG_TEXT_MODES = ("full", "hash", "none")
PREDICTION_LOG_TEXT_UNCERTAIN = env_choice(
    "PREDICTION_LOG_TEXT_UNCERTAIN", "full", PREDICTION_LOG_TEXT_MODES
)
PREDICTION_LOG_TEXT_SAMPLED = env_choice(
    "PREDICTION_LOG_TEXT_SAMPLED", "hash", PREDICTION_LOG_TEXT_MODES
)
PREDICTION_LOG_TEXT_BYTES_PER_MINUTE = env_int_between(
    "PREDICTION_LOG_TEXT_BYTES_PER_MINUTE", 8 << 20, 0, 1 << 40
)
# Records waiting for the log's writer, per process; one more is dropped, and counted.
PREDICTION_LOG_QUEUE = env_int_between("PREDICTION_LOG_QUEUE", 20_000, 1, 1_000_000)
# The daily retention job deletes logged predictions older than this (0: none by age), then
# the oldest past MAX_ROWS (0: no cap); those that feedback or a review names stay.
PREDICTION_LOG_RETENTION_DAYS = env_int_between("PREDICTION_LOG_RETENTION_DAYS", 30, 0, 36_500)
PREDICTION_LOG_MAX_ROWS = env_int_between(
    "PREDICTION_LOG_MAX_ROWS", 10_000_000, 0, 1_000_000_000_000
)

# Traffic (algorithm/domain/traffic.py). The shadow scores off the answer path: texts waiting
# for it per process (one more is skipped, and counted), and the most it scores a second per
# process (a token bucket), so no caller can make a shadow take more CPU than this.
SHADOW_QUEUE = env_int_between("SHADOW_QUEUE", 1_000, 1, 1_000_000)
SHADOW_MAX_TEXTS_PER_SECOND = env_int_between("SHADOW_MAX_TEXTS_PER_SECOND", 200, 1, 1_000_000)
# How often the monitor worker checks the canary's errors and live accuracy (its rollback).
TRAFFIC_CHECK_SECONDS = env_int_between("TRAFFIC_CHECK_SECONDS", 30, 1, 86_400)

# Live accuracy (algorithm/domain/live_accuracy.py): each model version's accuracy from the
# feedback on its logged predictions, over its newest WINDOW_ROWS feedback and over the last
# WINDOW_DAYS days. The metrics endpoint computes it at most once every CACHE_SECONDS.
LIVE_ACCURACY_WINDOW_ROWS = env_int_between("LIVE_ACCURACY_WINDOW_ROWS", 1000, 1, 1_000_000)
LIVE_ACCURACY_WINDOW_DAYS = env_int_between("LIVE_ACCURACY_WINDOW_DAYS", 7, 1, 3650)
LIVE_ACCURACY_CACHE_SECONDS = env_int_between("LIVE_ACCURACY_CACHE_SECONDS", 60, 0, 86_400)
