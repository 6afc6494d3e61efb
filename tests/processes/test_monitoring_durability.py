"""Scheduled monitoring under real RedBeat ticks (S5): schedules survive a restart of the
scheduler and of Redis, and two scheduler processes never fire one tick twice.

Each test runs the Procfile's `scheduler` and `algorithm_monitor` commands against its own
database and Redis key prefix and waits for a real tick of ``* * * * *``, so each takes up
to a minute and a bit.
"""

import contextlib
import datetime
import json
import pathlib
import re

import psycopg2
import pytest
import redis
from redbeat.decoder import RedBeatJSONDecoder

from common.logs import LINE_PATTERN
from tests import support

pytestmark = pytest.mark.slow

MODEL_1 = "11111111-1111-4111-8111-111111111111"
MODEL_2 = "22222222-2222-4222-8222-222222222222"
TASK = "worker.tasks.compute_accuracy"
ACCURACY_FIELDS = {
    "model_id",
    "accuracy",
    "samples",
    "result_id",
    "result_timestamp",
    "computed_time",
    "error",
}
# One loop of the scheduler (beat_max_loop_interval) and a margin.
LOOP_SECONDS = 5
ACQUIRED = "beat: Acquired lock"
# A scheduler's start, to its lock: its imports take most of it, and many times longer on a
# machine busy with the rest of the suite.
START_SECONDS = 90
# From a scheduler holding its lock to a tick of '* * * * *' done by the worker: up to a
# minute to the tick, then the task queued, run and written, slower on a busy machine.
TICK_SECONDS = 150
WORKER_LINE = re.compile(rf"Task {re.escape(TASK)}\[[0-9a-f-]+\] (received|succeeded)")


# The key names follow worker/app.py: RedBeat's prefix is "<REDIS_KEY_PREFIX>redbeat:".
def entry_key(env: dict[str, str], model_id: str) -> str:
    return f"{env['REDIS_KEY_PREFIX']}redbeat:monitor-accuracy:{model_id}"


def schedule_key(env: dict[str, str]) -> str:
    return f"{env['REDIS_KEY_PREFIX']}redbeat::schedule"


def accuracy_key(env: dict[str, str], model_id: str) -> str:
    return f"{env['REDIS_KEY_PREFIX']}accuracy:{model_id}"


def client(env: dict[str, str]) -> redis.Redis:
    return redis.Redis.from_url(
        env["REDIS_URL"], socket_connect_timeout=3, socket_timeout=5, decode_responses=True
    )


def prepare(env: dict[str, str]) -> None:
    support.run_checked("python -m web.manage release", env)
    support.run_checked("python -m algorithm.tools.sql_schema --test-data", env)


def set_schedule(env: dict[str, str], model_id: str, cron_expression: str) -> None:
    """Through the very function the gRPC and HTTP services call, in its own process."""
    support.run_checked(
        "python -c 'from algorithm.serving.services.monitoring import schedule_upsert; "
        f'schedule_upsert(model_id="{model_id}", cron_expression="{cron_expression}")\'',
        env,
    )


class Process(support.Service):
    """A Service that may be stopped more than once: only the first stop signals its group,
    so a process group id reused after it ended is never signalled."""

    stopped = False

    def stop(self, timeout: float = 15) -> None:
        if not self.stopped:
            self.stopped = True
            super().stop(timeout)


def start(stack: contextlib.ExitStack, name: str, command, env, workdir) -> Process:
    service = Process(name, command, env, workdir)
    stack.callback(service.stop)
    return service


def sent_times(service: support.Service, model_id: str) -> list[datetime.datetime]:
    """When this scheduler sent the model's task, from its log lines."""
    times = []
    for line in service.output().splitlines():
        match = LINE_PATTERN.match(line)
        if match and match["message"].startswith(
            f"Scheduler: Sending due task monitor-accuracy:{model_id} "
        ):
            times.append(datetime.datetime.fromisoformat(match["time"]))
    return times


def worker_counts(worker: support.Service) -> dict[str, int]:
    counts = {"received": 0, "succeeded": 0}
    for match in WORKER_LINE.finditer(worker.output()):
        counts[match[1]] += 1
    return counts


def minute_of(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(second=0, microsecond=0)


def stored_accuracy(env: dict[str, str], model_id: str) -> dict | None:
    stored = client(env).get(accuracy_key(env, model_id))
    return json.loads(stored) if stored else None


def wait_for_ready_worker(worker: support.Service) -> None:
    support.wait_until(
        lambda: "ready." in worker.output() or worker.process.poll() is not None,
        60,
        "the Celery worker being ready",
    )
    assert worker.process.poll() is None, worker.output()[-3000:]


def wait_for_lock(schedulers: list[support.Service], timeout: float) -> None:
    def acquired():
        for scheduler in schedulers:
            if scheduler.process.poll() is not None:
                raise RuntimeError(f"{scheduler.name} exited:\n{scheduler.output()[-3000:]}")
        return any(ACQUIRED in scheduler.output() for scheduler in schedulers)

    support.wait_until(acquired, timeout, "a scheduler acquiring the RedBeat lock")


class RedisServer:
    """A redis-server of this test's own, append-only, on a fixed port and data folder, so
    that it can be shut down and started again with its data."""

    def __init__(self, workdir: pathlib.Path):
        self.workdir = workdir
        self.data = workdir / "redis-data"
        self.data.mkdir()
        self.port = support.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.service: Process | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.data), "--appendonly", "yes"]
        argv += ["--maxmemory-policy", "noeviction"]
        self.service = Process(f"redis-{self.starts}", argv, {}, self.workdir)
        self.service.wait_for_port(self.port, timeout=20)
        check = redis.Redis(port=self.port, socket_connect_timeout=3, socket_timeout=5)

        def loaded() -> bool:
            try:
                return check.ping()
            except redis.BusyLoadingError:
                return False

        support.wait_until(loaded, 20, "Redis loading its data")

    def restart(self) -> None:
        """SHUTDOWN (which writes the append-only file out), then start on the same port and
        folder."""
        assert self.service is not None
        redis.Redis(port=self.port, socket_connect_timeout=3, socket_timeout=5).shutdown()
        self.service.process.wait(timeout=20)
        self.service.stop()
        self.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


def test_a_schedule_survives_a_restart_of_the_scheduler_and_of_redis(tmp_path):
    server = RedisServer(tmp_path)
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)
        server.start()
        env = stack.enter_context(support.isolated_env("mondur", tmp_path))
        env["REDIS_URL"] = server.url
        env.pop("REDBEAT_REDIS_URL", None)
        prepare(env)
        set_schedule(env, MODEL_1, "* * * * *")

        # A first scheduler takes the lock and runs, then stops the way a deploy stops it.
        first = start(stack, "scheduler-1", support.procfile_command("scheduler"), env, tmp_path)
        wait_for_lock([first], START_SECONDS)
        first.stop()

        server.restart()
        store = client(env)
        entry = store.hgetall(entry_key(env, MODEL_1))
        assert entry, f"the RedBeat entry is gone after the restart: {store.keys('*')}"
        definition = json.loads(entry["definition"])
        assert (definition["task"], definition["args"]) == (TASK, [MODEL_1])
        assert definition["enabled"] is True
        assert definition["schedule"] == {
            "__type__": "crontab",
            "minute": "*",
            "hour": "*",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
        }
        assert store.zscore(schedule_key(env), entry_key(env, MODEL_1)) is not None
        conn = psycopg2.connect(env["DATABASE_URL"], connect_timeout=5)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(
                    "SELECT cron_expression FROM metrics_executions WHERE model_id = %s",
                    (MODEL_1,),
                )
                assert cursor.fetchall() == [("* * * * *",)]
        finally:
            conn.close()

        worker = start(
            stack, "algorithm_monitor", support.procfile_command("algorithm_monitor"), env, tmp_path
        )
        second = start(stack, "scheduler-2", support.procfile_command("scheduler"), env, tmp_path)
        wait_for_ready_worker(worker)
        wait_for_lock([second], START_SECONDS)

        def computed_after_a_tick_of_the_new_scheduler():
            sent = sent_times(second, MODEL_1)
            outcome = stored_accuracy(env, MODEL_1)
            if not sent or outcome is None:
                return None
            # Only the restarted scheduler's tick counts: a task the first one queued (a
            # tick it caught up on) could have written the key first.
            every_tick_ran = worker_counts(worker)["succeeded"] >= len(
                sent_times(first, MODEL_1)
            ) + len(sent)
            computed = datetime.datetime.fromisoformat(outcome["computed_time"])
            return outcome if every_tick_ran and computed >= sent[0] else None

        try:
            outcome = support.wait_until(
                computed_after_a_tick_of_the_new_scheduler,
                TICK_SECONDS,
                "a tick of the restarted scheduler writing the accuracy",
                interval=0.5,
            )
        except TimeoutError as timeout:
            raise AssertionError(
                f"{timeout}\nworker:\n{worker.output()[-3000:]}\n"
                f"scheduler:\n{second.output()[-3000:]}"
            ) from timeout
        assert set(outcome) == ACCURACY_FIELDS
        assert outcome["model_id"] == MODEL_1
        assert outcome["accuracy"] == pytest.approx(0.75)
        assert outcome["samples"] == 4
        assert outcome["result_timestamp"] == "2026-01-03T10:00:00+00:00"
        assert outcome["error"] is None
        assert isinstance(outcome["result_id"], int)
        assert worker.process.poll() is None and second.process.poll() is None


def test_two_schedulers_fire_each_tick_once(tmp_path):
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(support.isolated_env("mondup", tmp_path))
        prepare(env)
        beat = support.procfile_command("scheduler")
        apart = support.metrics_apart(env, tmp_path / "metrics-2")
        schedulers = [
            start(stack, "scheduler-1", beat, env, tmp_path),
            start(stack, "scheduler-2", beat, apart, tmp_path),
        ]
        worker = start(
            stack, "algorithm_monitor", support.procfile_command("algorithm_monitor"), env, tmp_path
        )
        # The training worker runs beside it and never sees a tick: they have their own queue.
        trainer = start(
            stack, "algorithm_celery", support.procfile_command("algorithm_celery"), env, tmp_path
        )
        wait_for_ready_worker(worker)
        wait_for_ready_worker(trainer)
        wait_for_lock(schedulers, START_SECONDS)
        # The other one started too, and waits for the lock: it is not merely slow to start.
        support.wait_until(
            lambda: all("beat: Starting..." in s.output() for s in schedulers),
            START_SECONDS,
            "both schedulers starting",
        )

        set_schedule(env, MODEL_2, "* * * * *")
        meta = client(env).hget(entry_key(env, MODEL_2), "meta")
        assert meta, "schedule_upsert saved no RedBeat entry"
        scheduled_at = json.loads(meta, cls=RedBeatJSONDecoder)["last_run_at"]
        first_tick = minute_of(scheduled_at) + datetime.timedelta(minutes=1)

        # The tick, then more than one scheduler loop beyond it, in which a second scheduler
        # would send it again.
        support.wait_until(
            lambda: (
                datetime.datetime.now(datetime.UTC)
                > first_tick + datetime.timedelta(seconds=LOOP_SECONDS + 1)
            ),
            75,
            "the first minute boundary after the schedule and one loop beyond",
            interval=0.5,
        )
        observed_until = datetime.datetime.now(datetime.UTC)
        assert all(s.process.poll() is None for s in schedulers), [
            s.output()[-2000:] for s in schedulers
        ]
        holders = [s.name for s in schedulers if ACQUIRED in s.output()]
        assert len(holders) == 1, holders
        assert all(s.output().count(ACQUIRED) <= 1 for s in schedulers)

        sent = sorted(t for s in schedulers for t in sent_times(s, MODEL_2))
        # Every minute boundary since the schedule was saved, each once (the last one a
        # loop and more back, so its send is logged by now).
        boundaries = []
        boundary = first_tick
        while boundary <= observed_until - datetime.timedelta(seconds=LOOP_SECONDS):
            boundaries.append(boundary)
            boundary += datetime.timedelta(minutes=1)
        assert [minute_of(t) for t in sent] == boundaries, (sent, boundaries)
        # On time: a tick is sent within a scheduler loop of its boundary.
        assert all(t - minute_of(t) < datetime.timedelta(seconds=LOOP_SECONDS) for t in sent), sent

        support.wait_until(
            lambda: worker_counts(worker)["succeeded"] >= len(sent),
            60,
            "the worker running the sent ticks",
        )
        assert worker_counts(worker) == {"received": len(sent), "succeeded": len(sent)}
        assert worker_counts(trainer) == {"received": 0, "succeeded": 0}
        outcome = stored_accuracy(env, MODEL_2)
        assert outcome is not None
        assert (outcome["accuracy"], outcome["samples"], outcome["error"]) == (
            pytest.approx(0.60),
            5,
            None,
        )

        # The one that waited takes over when the holder stops.
        (holder,) = (s for s in schedulers if s.name == holders[0])
        (standby,) = (s for s in schedulers if s is not holder)
        holder.stop()
        support.wait_until(
            lambda: ACQUIRED in standby.output(),
            3 * LOOP_SECONDS,
            "the waiting scheduler taking the lock over",
            interval=0.2,
        )
        assert "beat: Releasing lock" in holder.output()
        minutes = [minute_of(t) for s in schedulers for t in sent_times(s, MODEL_2)]
        assert len(minutes) == len(set(minutes)), minutes
