"""Gunicorn configuration: `gunicorn -c web/gunicorn.conf.py` from the repository root."""

from common import metrics
from common.settings import LISTEN_ADDRESS, WEB_PORT, WEB_WORKERS

wsgi_app = "web.config.asgi:application"
bind = f"{LISTEN_ADDRESS}:{WEB_PORT}"

# One process per core, each an event loop (uvicorn, with uvloop and httptools): predictions
# are answered on the loop, and those that arrive together in a process share one call to
# the algorithm service (web/algorithm_proxy/predict_asgi.py). Every other request runs
# Django on a pool of WEB_THREADS threads per process, readiness on two more
# (web/config/asgi.py), and the token and budget checks of predictions that need I/O on
# WEB_CHECK_THREADS more (common/nonblocking.py); each thread may hold a database
# connection, so workers * (WEB_THREADS + WEB_CHECK_THREADS + 2) must stay below
# PostgreSQL's max_connections.
worker_class = "uvicorn_worker.UvicornWorker"
workers = WEB_WORKERS
# Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads new
# connections over the workers; on one shared socket, whichever worker woke first took a
# whole burst of keep-alive connections and kept them while the others idled.
reuse_port = True

# Above the longest call web makes to the algorithm service, so a slow upstream is
# answered by web's own 503, not by gunicorn killing the worker; and above the longest
# import allowed (DATA_IMPORT_MAX_BYTES at about 2 MB/s).
timeout = 120
graceful_timeout = 30
# Load Django once, before forking, so workers answer their first request at once; nothing
# opens a connection at import (database and gRPC connections are made per worker).
preload_app = True

# uvicorn would take the client address and scheme from X-Forwarded-For and -Proto of any
# peer listed here (127.0.0.1 by default), for whoever runs on the host too. Web decides them
# itself, in one place for both of its paths: WEB_TRUSTED_PROXY_COUNT (web/config/settings.py).
forwarded_allow_ips = ""

accesslog = "-"
errorlog = "-"

# gunicorn's control socket lives at one fixed path per user: two servers on a host (web and
# the Flask shim under `make run`) would fight over it, and nothing here uses it.
control_socket_disable = True


def when_ready(_server):
    metrics.serve_if_first()


def child_exit(_server, worker):
    metrics.process_exited(worker.pid)
