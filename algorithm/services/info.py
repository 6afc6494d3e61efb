"""InfoService (and the shim's health): the build, the model answering, the counts."""

import socket
import time
from typing import Any

from algorithm import db
from algorithm.errors import Unavailable
from algorithm.model_cache import model_server
from algorithm.services.models import public_model
from algorithm.services.prediction import texts_predicted
from common import settings as common_settings


def health() -> dict[str, Any]:
    """Serving state: which model answers, and why a newer one was refused, if it was."""
    active = model_server.active
    return {
        "status": "ok",
        "model_id": active.model_id if active else None,
        "model_refused": model_server.last_refusal,
    }


def get_info() -> dict[str, Any]:
    """Build, uptime, the active model's record, and how many models and data rows exist."""
    store = model_server.store
    manifests = store.list_manifests()
    active_id = store.active_id()
    # The deployed model is the one answering: while a newly activated version is refused,
    # that is still the previous one.
    served = model_server.active
    deployed_id = served.model_id if served else active_id
    active = next((m for m in manifests if m["model_id"] == deployed_id), None)
    try:
        with db.transaction() as cursor:
            cursor.execute("SELECT count(*) AS rows FROM data")
            data_rows = cursor.fetchone()["rows"]
    except Unavailable:
        data_rows = None
    return {
        "version": common_settings.VERSION,
        "build_time": common_settings.BUILD_TIME,
        "git_revision": common_settings.GIT_REVISION,
        "uptime_seconds": round(time.time() - common_settings.STARTED_AT, 3),
        "active_model": public_model(active, active_id) if active else None,
        "model_refused": model_server.last_refusal,
        "model_count": len(manifests),
        "data_rows": data_rows,
        "replica": socket.gethostname(),
        "texts_predicted": texts_predicted(),
    }
