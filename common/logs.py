"""One log format for every process: a line per record, to stdout and to a rotating file
``LOG_DIR/<service>.log`` that every service's log volume shares.

A line reads ``<UTC time> <level> <service> <request or job id> <logger>: <message>``,
with the message's own line breaks escaped, so one line is always one record and
``GET /api/log/`` can merge the files by time.
"""

import contextlib
import contextvars
import logging
import logging.config
import re
import time
from collections.abc import Iterator
from typing import Any

from common import settings

# The request (or job) a record belongs to; "-" outside of one.
correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")

_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
LINE_PATTERN = re.compile(
    r"^(?P<time>\S+) (?P<level>[A-Z]+) (?P<service>\S+) (?P<id>\S+) (?P<logger>[^:\s]+): "
    r"(?P<message>.*)$"
)


def clean_id(value: str | None) -> str | None:
    """A caller-supplied id, if it is safe to put in a log line."""
    return value if value and _ID_PATTERN.match(value) else None


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
    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(service)s %(correlation_id)s "
            "%(name)s: %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\\", "\\\\").replace("\n", "\\n")


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
                "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
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
