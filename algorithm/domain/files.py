"""Files on MODEL_DIR read and replaced safely: whoever can write the volume must not make a
serving process follow a link, block on a FIFO or see a half-written file."""

import errno
import os
import pathlib
import stat


class ModelIntegrityError(Exception):
    """A version's files do not match its signed manifest: it must not be loaded.

    `check` names the check that failed, in a word (metrics count refusals by it).
    """

    def __init__(self, message: str, check: str):
        super().__init__(message)
        self.check = check


def read_regular_file(path: pathlib.Path, limit: int = -1) -> bytes:
    """A file's bytes (at most limit of them), refusing a symbolic link (O_NOFOLLOW: no window
    between check and read) or anything but a regular file."""
    try:
        # O_NONBLOCK: opening a FIFO put in a pickle's place must fail the check, not hang.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ModelIntegrityError(f"{path.name} is a symbolic link", "file_type") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ModelIntegrityError(f"{path.name} is not a regular file", "file_type")
    with os.fdopen(fd, "rb") as stream:
        return stream.read(limit)


def write_durably(path: pathlib.Path, data: bytes) -> None:
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
