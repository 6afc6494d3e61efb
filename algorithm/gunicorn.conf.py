"""gunicorn settings for the Flask shim, from the environment."""

import os

from algorithm.logs import configure_logging

bind = f"0.0.0.0:{os.environ.get('ALGORITHM_HTTP_PORT') or 5000}"
workers = int(os.environ.get("ALGORITHM_HTTP_WORKERS") or 2)
threads = int(os.environ.get("ALGORITHM_HTTP_THREADS") or 4)
timeout = 60
graceful_timeout = 10
accesslog = "-"


def post_fork(_server, _worker):
    configure_logging("algorithm-http")


# One fixed control-socket path per user would clash with web's gunicorn; nothing uses it.
control_socket_disable = True
