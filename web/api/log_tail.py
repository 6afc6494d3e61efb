"""GET /api/log/: the newest lines of the services' log files, merged by time."""

import os
import stat
from pathlib import Path

from common import settings as common_settings
from common.logs import LINE_PATTERN

SERVICES = ("web", "algorithm-grpc", "algorithm-http", "worker", "scheduler")
_BLOCK_BYTES = 64 * 1024


def log_tail(*, lines: int, service: str | None = None) -> list[dict[str, str]]:
    """The newest `lines` log records across the services' files (or one service's), oldest
    first. Every file line is one record, starting with its UTC time, so they merge by time."""
    names = [service] if service else SERVICES
    root = common_settings.LOG_DIR
    # Compose mounts the other containers' log volumes read-only in folders under web's own.
    folders = [root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())]
    records = []
    for folder in folders:
        for name in names:
            records.extend(_last_lines(folder / f"{name}.log", lines))
    records.sort(key=lambda line: line.split(" ", 1)[0])
    return [_parse(line) for line in records[-lines:]]


def _last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a log file, reading backwards from its end: logs grow large.
    None from a link there: whoever writes another container's log volume could point one at
    a file of web's own (its secrets) and have this view show it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    with open(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        stream.seek(0, os.SEEK_END)
        position, data = stream.tell(), b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(_BLOCK_BYTES, position)
            position -= step
            stream.seek(position)
            data = stream.read(step) + data
    text = data.decode("utf-8", errors="replace").splitlines()
    return [line for line in text[-count:] if line]


def _parse(line: str) -> dict[str, str]:
    match = LINE_PATTERN.match(line)
    if match is None:
        return {"line": line}
    return {**match.groupdict(), "line": line}
