"""What a foothold in one part of the deployment can do to another through what they share."""

import pathlib
import shutil
import uuid

from algorithm.domain.store import ACTIVE_FILE
from tests import support
from tests.hostile import bounds


def test_a_link_at_a_log_file_never_makes_its_service_write_through_it(stack):
    """Whoever can write a log folder puts a link to the active model's pointer at the shim's
    log file (compose used to share one log volume between every app container, web's
    included): the shim's next record must not land in the pointer."""
    log = pathlib.Path(stack.env["LOG_DIR"]) / "algorithm-http.log"
    models = pathlib.Path(stack.env["MODEL_DIR"])
    pointer = models / ACTIVE_FILE
    before = pointer.read_bytes()
    # A copy of the served version under another id: the shim refuses to load it, and logs so.
    copy = str(uuid.uuid4())
    shutil.copytree(models / stack.model_id, models / copy)
    try:
        with bounds.held(stack, "log file replaced by a link to ACTIVE") as attack:
            log.unlink(missing_ok=True)
            log.symlink_to(pointer)
            with support.shim_session() as shim:
                refused = shim.post(
                    f"{stack.shim}/predict", json={"text": "hi", "model_id": copy}, timeout=10
                )
                assert refused.status_code == 409, refused.text
                attack.keep(3)
                served = shim.post(f"{stack.shim}/predict", json={"text": "hi"}, timeout=10)
            assert served.status_code == 200, served.text
            assert served.json()["model_id"] == stack.model_id
    finally:
        shutil.rmtree(models / copy)

    after = pointer.read_bytes()
    assert after == before, f"ACTIVE went from {len(before)} to {len(after)} bytes: {after!r}"
    assert not log.is_symlink()
    assert f"Refused to load model {copy}" in log.read_text()
