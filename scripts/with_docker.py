"""Run a command with a Docker engine available, for the compose test and the offline images.

Uses the engine that DOCKER_HOST (or the default socket) answers. When none answers and this
is root on a machine with Debian's ``dockerd``, starts a private engine for as long as the
command runs (its own socket, pid file and state under a temporary folder; images in
``--data-root``, kept between runs so base images and build layers are reused), then stops it
by its pid. Anywhere else it prints why and exits 0 without running the command.

Usage: ``python scripts/with_docker.py [--data-root DIR] COMMAND [ARGS...]``.
"""

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DEFAULT_DATA_ROOT = pathlib.Path.home() / ".cache" / "textclf" / "docker"
START_SECONDS = 60
STOP_SECONDS = 30


def engine_answers(env: dict[str, str]) -> bool:
    try:
        return (
            subprocess.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                env=env,
                capture_output=True,
                timeout=10,
            ).returncode
            == 0
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def why_no_private_engine() -> str | None:
    if not shutil.which("docker"):
        return "the docker client is not installed"
    if not shutil.which("dockerd"):
        return "no Docker engine answers and dockerd is not installed"
    if os.geteuid() != 0:
        return "no Docker engine answers, and only root can start a private dockerd"
    return None


def start_engine(state: pathlib.Path, data_root: pathlib.Path) -> tuple[subprocess.Popen, str]:
    data_root.mkdir(parents=True, exist_ok=True)
    host = f"unix://{state}/docker.sock"
    log = (state / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        [
            "dockerd",
            "--host",
            host,
            "--pidfile",
            str(state / "dockerd.pid"),
            "--data-root",
            str(data_root),
            "--exec-root",
            str(state / "exec"),
            "--group",
            "root",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own session: a Ctrl-C meant for the command does not stop the engine under it.
        start_new_session=True,
    )
    env = {**os.environ, "DOCKER_HOST": host}
    deadline = time.monotonic() + START_SECONDS
    while not engine_answers(env):
        if daemon.poll() is not None or time.monotonic() > deadline:
            stop_engine(daemon)
            tail = (state / "dockerd.log").read_text(errors="replace")[-2000:]
            sys.exit(f"dockerd did not start within {START_SECONDS} s:\n{tail}")
        time.sleep(0.5)
    return daemon, host


def stop_engine(daemon: subprocess.Popen) -> None:
    # SIGTERM lets dockerd stop its containers and the containerd it started.
    daemon.terminate()
    try:
        daemon.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def run(command: list[str], data_root: pathlib.Path) -> int:
    env = dict(os.environ)
    daemon = None
    state = None
    if not engine_answers(env):
        reason = why_no_private_engine()
        if reason:
            print(f"Skipped: {reason}.", flush=True)
            return 0
        # A short path: a unix socket's path must fit in 108 bytes.
        state = pathlib.Path(tempfile.mkdtemp(prefix="textclf-dockerd-"))
        print(f"No Docker engine answers: starting a private one (images in {data_root})")
        daemon, env["DOCKER_HOST"] = start_engine(state, data_root)
    try:
        child = subprocess.Popen(command, env=env)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        return child.wait()
    finally:
        if daemon:
            stop_engine(daemon)
        if state:
            shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root",
        type=pathlib.Path,
        default=DEFAULT_DATA_ROOT,
        help=f"a private engine's images and volumes (default {DEFAULT_DATA_ROOT})",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if not args.command:
        parser.error("give the command to run")
    return run(args.command, args.data_root.resolve())


if __name__ == "__main__":
    sys.exit(main())
