"""Log files: a process writes its own file and never a file a link at a log's name points
at; /api/log/ reads the services' files without following links either."""

import logging
import logging.config
import os
import pathlib

import pytest

from common import logs
from common import settings as common_settings
from web.api.log_tail import log_tail

MODEL_POINTER = "0123456789abcdef0123456789abcdef\n"


@pytest.fixture
def handler(tmp_path, monkeypatch):
    """The file handler exactly as logging_config configures it, in a folder of its own."""
    monkeypatch.setattr(common_settings, "LOG_DIR", tmp_path / "log")
    common_settings.LOG_DIR.mkdir()
    config = logs.logging_config("algorithm-http")
    spec = {
        k: v for k, v in config["handlers"]["file"].items() if k not in ("filters", "formatter")
    }
    made = logging.config.DictConfigurator(config).configure_handler(spec)
    yield made
    made.close()


@pytest.fixture
def target(tmp_path) -> pathlib.Path:
    """A file the attacker wants the logging process to overwrite: the active model pointer."""
    path = tmp_path / "models" / "ACTIVE"
    path.parent.mkdir()
    path.write_text(MODEL_POINTER)
    return path


def emit(handler: logging.Handler, message: str) -> None:
    handler.handle(logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None))


def log_path(handler) -> pathlib.Path:
    return pathlib.Path(handler.baseFilename)


def test_a_caller_id_with_a_trailing_line_break_is_refused():
    assert logs.clean_id("abc-123") == "abc-123"
    assert logs.clean_id("abc-123\n") is None
    assert logs.clean_id("abc\n123") is None
    assert logs.clean_id("x" * 65) is None


def test_a_link_put_at_the_log_file_is_replaced_not_written_through(handler, target):
    emit(handler, "first")
    log_path(handler).unlink()
    log_path(handler).symlink_to(target)

    emit(handler, "second")
    emit(handler, "third")

    assert target.read_text() == MODEL_POINTER
    assert not log_path(handler).is_symlink()
    assert log_path(handler).read_text().splitlines() == ["second", "third"]


def test_a_link_put_at_the_log_file_while_it_is_open_is_replaced(handler, target):
    # The handler keeps its file open and reopens the name when the file there changes.
    emit(handler, "first")
    staging = log_path(handler).with_name("staging")
    staging.symlink_to(target)
    os.replace(staging, log_path(handler))

    emit(handler, "second")

    assert target.read_text() == MODEL_POINTER
    assert log_path(handler).read_text() == "second\n"


def test_a_link_put_at_the_lock_file_is_replaced_not_opened_through(handler, target):
    lock = pathlib.Path(handler.lockFilename)
    lock.symlink_to(target)
    before = target.stat()

    emit(handler, "first")

    assert target.read_text() == MODEL_POINTER and target.stat() == before
    assert not lock.is_symlink() and lock.is_file()
    assert log_path(handler).read_text() == "first\n"


def test_after_rotation_the_new_file_is_never_a_link(handler, target):
    # The configured size is 10 MiB; a small one rotates at once.
    handler.maxBytes = 64
    emit(handler, "x" * 100)
    backup = log_path(handler).with_name(log_path(handler).name + ".1")
    backup.symlink_to(target)

    emit(handler, "rotates: the old file becomes .1, the link .2")
    assert log_path(handler).with_name(log_path(handler).name + ".2").is_symlink()
    # Whatever is at the name when the file is next opened is no link either.
    log_path(handler).unlink(missing_ok=True)
    log_path(handler).symlink_to(target)
    emit(handler, "y" * 100)
    emit(handler, "after")

    assert target.read_text() == MODEL_POINTER
    assert not log_path(handler).is_symlink()


@pytest.mark.timeout(10)
def test_a_fifo_at_the_log_file_neither_blocks_nor_is_written(handler):
    os.mkfifo(log_path(handler))

    emit(handler, "first")

    assert log_path(handler).is_file() and log_path(handler).read_text() == "first\n"


def test_the_log_view_reads_other_containers_folders_and_no_link(tmp_path, monkeypatch):
    monkeypatch.setattr(common_settings, "LOG_DIR", tmp_path / "log")
    own, other = tmp_path / "log", tmp_path / "log" / "algorithm"
    other.mkdir(parents=True)
    line = "2026-01-01T00:00:0{}.000Z INFO {} - x: {}\n"
    (own / "web.log").write_text(line.format(1, "web", "from web"))
    (other / "algorithm-grpc.log").write_text(line.format(2, "algorithm-grpc", "from grpc"))
    # Another container's link to a file of web's own, which web could read.
    secret = tmp_path / "DJANGO_SECRET_KEY"
    secret.write_text(line.format(3, "web", "the secret"))
    (other / "algorithm-http.log").symlink_to(secret)

    records = log_tail(lines=10)

    assert [record["message"] for record in records] == ["from web", "from grpc"]
