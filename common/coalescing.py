"""Single predictions that arrive together in one process are answered as one batch.

Each call to scikit-learn costs most of a millisecond whatever it carries and a few
microseconds per text, and so does each call to the algorithm service: under load, fewer
and fuller batches. The web tier sends concurrent requests as one PredictBatch call; the
algorithm service scores concurrent Predict calls with one scikit-learn call.

Nothing waits for a batch to fill: the request thread that finds a free slot sends
everything queued so far itself, so a lone request goes out at once, on its own thread,
and a busy process fills each batch with what queued during the last one.
"""

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.metrics import COALESCED_BATCH_TEXTS

SendBatch = Callable[[list[str], str], dict[str, Any]]


@dataclass(eq=False)
class _Pending:
    text: str
    model_id: str
    outcome: dict[str, Any] | Exception | None = None
    # Set when the outcome is in, or when a sending slot may have come free.
    wakeup: threading.Event = field(default_factory=threading.Event)


class PredictionCoalescer:
    def __init__(
        self,
        send_batch: SendBatch,
        max_batch: int,
        max_in_flight: int,
        timeout: float,
        busy_error: Callable[[], Exception],
        is_per_text_error: Callable[[Exception], bool],
    ):
        """send_batch(texts, model_id) answers {"predictions": [...], "model_id"} or raises.

        A request still unanswered after timeout seconds raises busy_error(); a batch that
        fails with an error is_per_text_error accepts (one bad text) is sent again one text
        at a time, so each request gets its own verdict.
        """
        self._send_batch = send_batch
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._timeout = timeout
        self._busy_error = busy_error
        self._is_per_text_error = is_per_text_error
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        # Calls under way per model: a slow first load of one version never holds up
        # predictions for another.
        self._in_flight: collections.Counter[str] = collections.Counter()

    @property
    def queued(self) -> int:
        """Predictions waiting for a call."""
        with self._lock:
            return len(self._queue)

    def predict(self, *, text: str, model_id: str) -> dict[str, Any]:
        """One prediction, {"label", "scores", "model_id"}, sent alone or with others."""
        pending = _Pending(text, model_id)
        deadline = time.monotonic() + self._timeout
        with self._lock:
            self._queue.append(pending)
        while True:
            with self._lock:
                if pending.outcome is not None:
                    break
                batch = self._take_batch()
                if batch:
                    self._in_flight[batch[0].model_id] += 1
                else:
                    pending.wakeup.clear()
            if batch:
                self._send(batch)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._abandon(pending)
                raise self._busy_error()
            pending.wakeup.wait(remaining)
        if isinstance(pending.outcome, Exception):
            raise pending.outcome
        return pending.outcome

    def _take_batch(self) -> list[_Pending]:
        """The oldest request whose model has a free call, and up to max_batch - 1 more
        for that model, in order; empty if every queued model's calls are all taken."""
        model_id = next(
            (
                pending.model_id
                for pending in self._queue
                if self._in_flight[pending.model_id] < self._max_in_flight
            ),
            None,
        )
        if model_id is None:
            return []
        batch, rest = [], []
        for pending in self._queue:
            if pending.model_id == model_id and len(batch) < self._max_batch:
                batch.append(pending)
            else:
                rest.append(pending)
        self._queue = rest
        return batch

    def _abandon(self, pending: _Pending) -> None:
        with self._lock:
            if pending in self._queue:
                self._queue.remove(pending)

    def _send(self, batch: list[_Pending]) -> None:
        outcomes: list[dict[str, Any] | Exception] = [self._busy_error()] * len(batch)
        try:
            outcomes = self._call(batch)
        except Exception as error:
            outcomes = [error] * len(batch)
        finally:
            model_id = batch[0].model_id
            with self._lock:
                self._in_flight[model_id] -= 1
                for pending, outcome in zip(batch, outcomes, strict=True):
                    pending.outcome = outcome
                    pending.wakeup.set()
                # The oldest request waiting for this model's call takes it over.
                waiting = next((p for p in self._queue if p.model_id == model_id), None)
                if waiting is not None:
                    waiting.wakeup.set()

    def _call(self, batch: list[_Pending]) -> list[dict[str, Any] | Exception]:
        COALESCED_BATCH_TEXTS.observe(len(batch))
        texts = [pending.text for pending in batch]
        try:
            reply = self._send_batch(texts, batch[0].model_id)
        except Exception as error:
            if len(batch) == 1 or not self._is_per_text_error(error):
                raise
            return [self._single(pending) for pending in batch]
        return [
            {**prediction, "model_id": reply["model_id"]} for prediction in reply["predictions"]
        ]

    def _single(self, pending: _Pending) -> dict[str, Any] | Exception:
        try:
            return self._call([pending])[0]
        except Exception as error:
            return error
