"""The serving processes start without the job queue's libraries: Celery, RedBeat and
kombu (which brings Django) are imported only where a job is queued or a schedule written."""

import subprocess
import sys

from tests import support

QUEUE_LIBRARIES = ("celery", "redbeat", "kombu", "django", "worker")


def test_the_grpc_server_and_the_shim_import_no_queue_library_at_start():
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, algorithm.serving.grpc_server, algorithm.serving.http_shim; "
            "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))",
        ],
        cwd=support.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(QUEUE_LIBRARIES).isdisjoint(listed)
    assert "sklearn" in listed  # the check sees what the server imports
