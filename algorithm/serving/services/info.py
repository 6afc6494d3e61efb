"""InfoService (and the shim's health): the build, the model answering, the counts."""

import socket
import time
from typing import Any

from algorithm.domain import db
from algorithm.domain.datasource import DATA_TABLE
from algorithm.domain.errors import Unavailable
from algorithm.serving.model_repository import model_repository
from algorithm.serving.services.models import model_message
from algorithm.serving.services.prediction import texts_predicted
from algorithm.v1 import info_pb2
from common import settings as common_settings
from common.proto_json import from_json

# Of web's `data` table only the rows are counted, no column read (the declaration
# tests/test_data_table_contract.py reads).
DATA_COLUMNS: tuple[str, ...] = ()


def health() -> dict[str, Any]:
    """Serving state: whether the process has settled on the active version (as the gRPC
    server's overall health), which model answers, and why a newer one was refused."""
    active = model_repository.active
    return {
        "status": "ok" if model_repository.ready() else "loading",
        "model_id": active.model_id if active else None,
        "model_refused": model_repository.last_refusal,
    }


def get_info() -> info_pb2.GetInfoResponse:
    """Build, uptime, the active model's record, and how many models and data rows exist."""
    store = model_repository.store
    manifests = store.list_manifests()
    active_id = store.active_id()
    # The deployed model is the one answering: while a newly activated version is refused,
    # that is still the previous one.
    served = model_repository.active
    deployed_id = served.model_id if served else active_id
    active = next((m for m in manifests if m["model_id"] == deployed_id), None)
    try:
        with db.transaction() as cursor:
            cursor.execute(f"SELECT count(*) AS rows FROM {DATA_TABLE}")
            data_rows = db.fetch_one(cursor)["rows"]
    except Unavailable:
        data_rows = None
    described = from_json(
        info_pb2.GetInfoResponse,
        {
            "version": common_settings.VERSION,
            "build_time": common_settings.BUILD_TIME,
            "git_revision": common_settings.GIT_REVISION,
            "uptime_seconds": round(time.time() - common_settings.STARTED_AT, 3),
            "model_refused": model_repository.last_refusal,
            "model_count": len(manifests),
            "data_rows": data_rows,
            "replica": socket.gethostname(),
            "texts_predicted": texts_predicted(),
            "runtime": served.runtime if served else "",
        },
    )
    if active:
        described.active_model.CopyFrom(model_message(active, active_id))
    return described
