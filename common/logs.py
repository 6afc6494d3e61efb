"""One log format for every process: a line per record, to stdout and to a rotating file
``LOG_DIR/<service>.log`` (under compose, in a log volume of the container's own).

A line reads ``<UTC time> <level> <service> <request or job id> <logger>: <message>``,
with the message's own line breaks escaped, so one line is always one record and
``GET /api/log/`` can merge the files by time.
"""

import contextlib
import contextvars
import errno
import logging
import logging.config
import os
import re
import stat
import time
from collections.abc import Iterator
from io import TextIOWrapper
from typing import Any, cast

from concurrent_log_handler import ConcurrentRotatingFileHandler

from common import settings

# The request (or job) a record belongs to; "-" outside of one.
correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")

_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
LINE_PATTERN = re.compile(
    r"^(?P<time>\S+) (?P<level>[A-Z]+) (?P<service>\S+) (?P<id>\S+) (?P<logger>[^:\s]+): "
    r"(?P<message>.*)$"
)


def clean_id(value: str | None) -> str | None:
    """A caller-supplied id, if it is safe to put in a log line."""
    return value if value and _ID_PATTERN.fullmatch(value) else None


@contextlib.contextmanager
def correlated(value: str) -> Iterator[None]:
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)


class ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.correlation_id = correlation_id.get()
        return True


class LineFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(service)s %(correlation_id)s "
            "%(name)s: %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\\", "\\\\").replace("\n", "\\n")


_OPEN_FLAGS = {"a": os.O_WRONLY | os.O_APPEND, "r+": os.O_RDWR}


def open_own_file(path: str, mode: str, encoding: str | None = None) -> TextIOWrapper:
    """The regular file at `path`, made if missing, never a file a link there points at.

    Whoever can write the log folder could otherwise put a link at a log's name and have this
    process's next record written wherever the link points (a model's ACTIVE pointer, which
    this process may write and the writer of the link may not). A link, FIFO or socket found
    at `path` is removed and a new file made in its place; a second one in a row is refused.
    """
    flags = _OPEN_FLAGS[mode] | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for _attempt in range(2):
        try:
            fd = os.open(path, flags, 0o666)
        except OSError as error:
            # ELOOP: a link (O_NOFOLLOW). ENXIO: a FIFO no one reads (O_NONBLOCK).
            if error.errno not in (errno.ELOOP, errno.ENXIO):
                raise
        else:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                # Text mode, always: _OPEN_FLAGS holds only text modes.
                return cast(TextIOWrapper, open(fd, mode, encoding=encoding))
            os.close(fd)
        os.unlink(path)
    raise OSError(errno.ELOOP, "Something other than a file keeps appearing here", path)


class OwnFileRotatingHandler(ConcurrentRotatingFileHandler):
    """ConcurrentRotatingFileHandler that opens its log and lock files with open_own_file.
    (Rotation renames and removes names, which never writes through a link.)"""

    def do_open(self, mode: str | None = None) -> TextIOWrapper:
        return open_own_file(self.baseFilename, mode or self.mode, self.encoding)

    def atomic_open(self, file_path: str) -> TextIOWrapper:
        return open_own_file(file_path, "r+", self.encoding)


def logging_config(service: str) -> dict[str, Any]:
    """A dictConfig for one service (Django's LOGGING uses it too)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "service": service}},
        "formatters": {"line": {"()": LineFormatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": ["context"],
                "formatter": "line",
            },
            # Several processes (gunicorn workers, Celery's pool) write one file: this
            # handler locks around writes and rotation, which RotatingFileHandler does not.
            "file": {
                "()": OwnFileRotatingHandler,
                "filename": str(settings.LOG_DIR / f"{service}.log"),
                "maxBytes": 10 << 20,
                "backupCount": 5,
                "encoding": "utf-8",
                "filters": ["context"],
                "formatter": "line",
            },
        },
        "root": {"handlers": ["stdout", "file"], "level": "INFO"},
    }


def configure_logging(service: str) -> None:
    settings.LOG_DIR.mkdir(parents=True, exist_ok=True)
    logging.config.dictConfig(logging_config(service))
