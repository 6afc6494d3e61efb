"""Container health checks for the Celery processes.

``python -m worker.healthcheck worker``: the training and the monitoring worker on this host
both answer a ping.
``python -m worker.healthcheck scheduler``: a RedBeat scheduler holds its lock in Redis.
"""

import socket
import sys

import redis

from algorithm.jobqueue import app
from common import settings as common_settings

TIMEOUT_SECONDS = 3


# The node names the Procfile's algorithm_celery and algorithm_monitor give their workers.
WORKER_NODES = ("celery", "monitor")


def worker_answers() -> bool:
    nodes = [f"{node}@{socket.gethostname()}" for node in WORKER_NODES]
    replies = app.control.ping(destination=nodes, timeout=TIMEOUT_SECONDS)
    return len(replies or ()) == len(nodes)


def scheduler_holds_lock() -> bool:
    client = redis.Redis.from_url(common_settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS)
    return bool(client.exists(app.conf.redbeat_lock_key))


def main(role: str) -> int:
    checks = {"worker": worker_answers, "scheduler": scheduler_holds_lock}
    try:
        healthy = checks[role]()
    except Exception as error:
        print(f"{role}: {error}", file=sys.stderr)
        return 1
    if not healthy:
        print(f"{role}: no answer", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "worker"))
