"""Run a command (the test suite) with PostgreSQL and Redis available.

Uses DATABASE_URL and REDIS_URL (default: the local servers). If either does not answer,
starts a throwaway one from the local binaries for the length of the run, and stops it
after. Usage: ``python -m tests.harness pytest [args...]``.
"""

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
    except psycopg2.OperationalError:
        return False
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


def start_postgres(workdir: pathlib.Path) -> tuple[str, list[str]]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        sys.exit(
            "PostgreSQL does not answer at DATABASE_URL and initdb/pg_ctl are missing: "
            "install PostgreSQL (apt-get install postgresql) or set DATABASE_URL."
        )
    data = workdir / "pgdata"
    # initdb refuses to run as root; the postgres account owns the throwaway cluster then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(workdir, "postgres")
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(workdir / "pg.log")]
    subprocess.run([*start, "-w", "start"], check=True, stdout=subprocess.DEVNULL)
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    _wait(lambda: postgres_answers(url), "PostgreSQL")
    return url, [*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]


def start_redis(workdir: pathlib.Path) -> tuple[str, subprocess.Popen]:
    server = shutil.which("redis-server")
    if not server:
        sys.exit(
            "Redis does not answer at REDIS_URL and redis-server is missing: "
            "install Redis (apt-get install redis-server) or set REDIS_URL."
        )
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    _wait(lambda: redis_answers(url), "Redis")
    return url, process


def main(command: list[str]) -> int:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="textclf-services-"))
    stop_postgres, redis_process = None, None
    try:
        if not postgres_answers(env["DATABASE_URL"]):
            host = urllib.parse.urlsplit(env["DATABASE_URL"]).netloc
            print(f"PostgreSQL does not answer at {host}: starting a throwaway one", flush=True)
            env["DATABASE_URL"], stop_postgres = start_postgres(workdir)
        if not redis_answers(env["REDIS_URL"]):
            print("Redis does not answer: starting a throwaway one", flush=True)
            env["REDIS_URL"], redis_process = start_redis(workdir)
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()
    finally:
        if stop_postgres:
            subprocess.run(stop_postgres, check=False, stdout=subprocess.DEVNULL)
        if redis_process:
            redis_process.terminate()
            redis_process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
