"""The shadow's scoring in a process of its own, one beside each serving process that has a
shadow: a batch of texts goes to it through a pipe and its labels come back. In the serving
process itself, a batch held the GIL while the serving threads waited for it, which cost
them more CPU than the batch did (bench/README.md, item 11).

The child is `python -m algorithm.serving.shadow_scoring MODEL_DIR REQUESTS_FD REPLIES_FD`,
started by ScoringProcess only. It loads the version it is asked for from the model folder,
with every check a load makes, keeps that one, and scores with the runtime that would serve
it. It ends when its parent closes the pipe or dies.
"""

import contextlib
import os
import pathlib
import pickle
import select
import signal
import subprocess
import sys
from typing import BinaryIO

# Covers the child's start and its first load of the shadow's version.
REPLY_SECONDS = 60.0


class ScoringFailed(Exception):
    """The batch was not scored: the child refused the version, ended, or did not answer."""


class ScoringProcess:
    """The child process of one serving process's shadow thread, started on its first batch
    and again after it fails; one caller at a time."""

    def __init__(self, model_dir: pathlib.Path, reply_seconds: float = REPLY_SECONDS):
        self._model_dir = model_dir
        self.reply_seconds = reply_seconds
        self._child: subprocess.Popen | None = None
        self._requests: BinaryIO | None = None
        self._replies: BinaryIO | None = None

    def labels(self, model_id: str, texts: list[str]) -> list[str]:
        """The version's label for each text; ScoringFailed if the child refused the version,
        gave no answer in time, or ended twice (a child that ended since the last batch is
        replaced and asked again)."""
        for attempt in (1, 2):
            requests, replies = self._started()
            try:
                pickle.dump((model_id, texts), requests, protocol=pickle.HIGHEST_PROTOCOL)
                requests.flush()
                readable, _, _ = select.select([replies], [], [], self.reply_seconds)
                if not readable:
                    self.close()
                    raise ScoringFailed(
                        f"the scoring process gave no answer in {self.reply_seconds:g} s"
                    )
                answer, value = pickle.load(replies)
            except (OSError, EOFError, pickle.UnpicklingError) as error:
                self.close()
                if attempt == 2:
                    ended = error or type(error).__name__
                    raise ScoringFailed(f"the scoring process ended ({ended})") from None
                continue
            if answer != "labels":
                raise ScoringFailed(value)
            return value
        raise AssertionError("unreachable")

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def close(self) -> None:
        """Stop the child (it would end at the pipe's end anyway); the next batch starts one."""
        child, self._child = self._child, None
        for stream in (self._requests, self._replies):
            # What a dead child never read is dropped with the stream.
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        self._requests = self._replies = None
        if child is not None:
            child.kill()
            child.wait()

    def _started(self) -> tuple[BinaryIO, BinaryIO]:
        if self._child is None or self._requests is None or self._replies is None:
            request_read, request_write = os.pipe()
            reply_read, reply_write = os.pipe()
            try:
                self._child = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        __name__,
                        str(self._model_dir),
                        str(request_read),
                        str(reply_write),
                    ],
                    pass_fds=(request_read, reply_write),
                    stdin=subprocess.DEVNULL,
                    # Its warnings go to the serving process's log, on stderr.
                    stdout=subprocess.DEVNULL,
                )
            except OSError as error:
                for fd in (request_read, request_write, reply_read, reply_write):
                    os.close(fd)
                raise ScoringFailed(f"the scoring process did not start ({error})") from None
            os.close(request_read)
            os.close(reply_write)
            self._requests = os.fdopen(request_write, "wb")
            self._replies = os.fdopen(reply_read, "rb")
        return self._requests, self._replies


def _serve(model_dir: pathlib.Path, requests: BinaryIO, replies: BinaryIO) -> None:
    # Imported here: the parent needs none of it to start a child.
    from algorithm.domain.store import ModelStore

    store, loaded = ModelStore(model_dir), None
    while True:
        try:
            model_id, texts = pickle.load(requests)
        except EOFError:
            return
        try:
            if loaded is None or loaded.model_id != model_id:
                loaded = None
                loaded = store.load(model_id)
            answer: tuple[str, object] = ("labels", [label for label, _ in loaded.predict(texts)])
        except Exception as error:  # the parent logs it and skips the batch
            answer = ("error", f"{model_id} could not score: {error}")
        pickle.dump(answer, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


def main() -> None:
    # The serving process's Ctrl-C reaches its whole group; the child ends with the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    model_dir, requests_fd, replies_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests, replies = os.fdopen(requests_fd, "rb"), os.fdopen(replies_fd, "wb")
    with contextlib.suppress(BrokenPipeError):
        _serve(pathlib.Path(model_dir), requests, replies)


if __name__ == "__main__":
    main()
