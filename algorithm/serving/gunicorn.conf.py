"""gunicorn settings for the Flask shim; what varies comes from algorithm/settings.py."""

from algorithm import settings
from algorithm.serving.model_repository import model_repository
from algorithm.serving.services import prediction
from common import metrics
from common import settings as common_settings
from common.logs import configure_logging

bind = f"{common_settings.LISTEN_ADDRESS}:{common_settings.ALGORITHM_HTTP_PORT}"
workers = settings.HTTP_WORKERS
threads = settings.HTTP_THREADS
# A socket per worker (SO_REUSEPORT): the kernel spreads connections over the workers, where
# on one shared socket a single worker could take a whole burst of keep-alive connections.
reuse_port = True
timeout = 60
graceful_timeout = 10
accesslog = "-"
# Import the app (scikit-learn and all) once, before forking: workers answer from the start.
preload_app = True


def post_fork(_server, _worker):
    configure_logging("algorithm-http")
    # Threads do not survive a fork: each worker watches for new model versions itself,
    # and loads the active one before its first request, and writes its prediction log.
    model_repository.start()
    prediction.start_prediction_log()
    prediction.start_traffic()


def child_exit(_server, worker):
    metrics.process_exited(worker.pid)


# One fixed control-socket path per user would clash with web's gunicorn; nothing uses it.
control_socket_disable = True
