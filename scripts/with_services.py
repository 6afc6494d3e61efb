"""Run a command with PostgreSQL and Redis available.

Uses DATABASE_URL and REDIS_URL (default: the local servers). When one does not answer,
starts one from the local binaries for as long as the command runs, then stops it:

- by default a throwaway server on a free port, its data deleted after (``make test``);
- with ``--data-dir DIR``, a server on the URL's own port whose data stays in DIR between
  runs (``make run``).

Usage: ``python scripts/with_services.py [--data-dir DIR] COMMAND [ARGS...]``.
"""

import argparse
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import psycopg2
import redis

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
    except psycopg2.OperationalError as error:
        # A server that answers but lacks the database still answers: the app creates it.
        return "does not exist" in str(error)
    return True


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _wait(predicate, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"{what} did not start within {seconds:g} s")
        time.sleep(0.2)


def _local_port(url: str, what: str, persistent: bool) -> int:
    """The port to start a server on: the URL's own when persistent, else any free one."""
    parts = urllib.parse.urlsplit(url)
    if not persistent:
        return free_port()
    if parts.hostname not in LOCAL_HOSTS:
        sys.exit(
            f"{what} does not answer at {parts.hostname}:{parts.port}, which is not this machine."
        )
    return parts.port


def start_postgres(url: str, data_root: pathlib.Path, persistent: bool) -> tuple[str, list[str]]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        sys.exit(
            "PostgreSQL does not answer at DATABASE_URL and initdb/pg_ctl are missing: "
            "install PostgreSQL (apt-get install postgresql) or set DATABASE_URL."
        )
    port = _local_port(url, "PostgreSQL", persistent) or 5432
    data = data_root / "postgres"
    # initdb and postgres refuse to run as root; the postgres account owns the cluster then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data_root.mkdir(parents=True, exist_ok=True)
    if as_user:
        shutil.chown(data_root, "postgres")
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    options = f"-p {port} -k {data_root} -c listen_addresses=127.0.0.1"
    if not persistent:
        options += " -c fsync=off"
    start = [
        *as_user,
        pg_ctl,
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(data_root / "postgres.log"),
    ]
    subprocess.run([*start, "-w", "start"], check=True, stdout=subprocess.DEVNULL)
    started_url = urllib.parse.urlunsplit(
        urllib.parse.urlsplit(url)._replace(netloc=f"postgres@127.0.0.1:{port}")
    )
    _wait(lambda: postgres_answers(started_url), "PostgreSQL")
    return started_url, [*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]


def start_redis(
    url: str, data_root: pathlib.Path, persistent: bool
) -> tuple[str, subprocess.Popen]:
    server = shutil.which("redis-server")
    if not server:
        sys.exit(
            "Redis does not answer at REDIS_URL and redis-server is missing: "
            "install Redis (apt-get install redis-server) or set REDIS_URL."
        )
    port = _local_port(url, "Redis", persistent) or 6379
    data = data_root / "redis"
    data.mkdir(parents=True, exist_ok=True)
    persistence = ["--appendonly", "yes"] if persistent else ["--appendonly", "no", "--save", ""]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), *persistence],
        stdout=subprocess.DEVNULL,
    )
    parts = urllib.parse.urlsplit(url)
    started_url = urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))
    _wait(lambda: redis_answers(started_url), "Redis")
    return started_url, process


def run(command: list[str], data_dir: pathlib.Path | None) -> int:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    persistent = data_dir is not None
    data_root = (
        data_dir.resolve() if persistent else pathlib.Path(tempfile.mkdtemp(prefix="textclf-"))
    )
    where = f"one with its data in {data_dir}" if persistent else "a throwaway one"
    stop_postgres, redis_process = None, None
    try:
        if not postgres_answers(env["DATABASE_URL"]):
            host = urllib.parse.urlsplit(env["DATABASE_URL"]).netloc.rpartition("@")[2]
            print(f"PostgreSQL does not answer at {host}: starting {where}", flush=True)
            env["DATABASE_URL"], stop_postgres = start_postgres(
                env["DATABASE_URL"], data_root, persistent
            )
        if not redis_answers(env["REDIS_URL"]):
            host = urllib.parse.urlsplit(env["REDIS_URL"]).netloc.rpartition("@")[2]
            print(f"Redis does not answer at {host}: starting {where}", flush=True)
            env["REDIS_URL"], redis_process = start_redis(env["REDIS_URL"], data_root, persistent)
        child = subprocess.Popen(command, env=env)
        # Ctrl-C reaches the child from the terminal; SIGTERM is passed on. Either way this
        # process waits for the child to end before it stops the servers under it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        return child.wait()
    finally:
        if stop_postgres:
            subprocess.run(stop_postgres, check=False, stdout=subprocess.DEVNULL)
        if redis_process:
            redis_process.terminate()
            redis_process.wait(timeout=10)
        if not persistent:
            shutil.rmtree(data_root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=pathlib.Path, help="keep the servers' data here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if not args.command:
        parser.error("give the command to run")
    return run(args.command, args.data_dir)


if __name__ == "__main__":
    sys.exit(main())
