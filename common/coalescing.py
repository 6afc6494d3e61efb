"""Single predictions that arrive together in one process are answered as one batch.

Each call to scikit-learn costs most of a millisecond whatever it carries and a few
microseconds per text, and so does each call to the algorithm service: under load, fewer
and fuller batches. The web tier sends concurrent requests as one PredictBatch call; the
algorithm service scores concurrent Predict calls with one scikit-learn call.

Nothing waits for a batch to fill: a lone request goes out at once, and a busy process
fills each batch with what queued during the last one. PredictionCoalescer serves threads
(the request thread that finds a free slot sends everything queued so far itself);
AsyncPredictionCoalescer serves one event loop (a task per call). Both pick their batches
and read the replies through _Batches.
"""

import asyncio
import collections
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, NotRequired, Protocol, TypedDict, TypeVar

from common.metrics import COALESCED_BATCH_TEXTS


class Origin(NamedTuple):
    """Who asked for one prediction, as the prediction log records it: the caller's own
    reference, the caller ("token:<fingerprint>" for REST; empty means internal) and the
    request id. Texts batched together keep each their own."""

    reference: str = ""
    caller: str = ""
    request_id: str = ""


INTERNAL = Origin()


class Scored(TypedDict):
    """One text's label, its score per label in the model's class order, and the id of the
    prediction."""

    label: str
    scores: dict[str, float]
    prediction_id: str
    # The caller's reference, as sent; empty when none was.
    reference: str
    # The version that answered this text: a call's texts may be split between the active
    # version and a canary (the algorithm service's traffic.py).
    model_id: str
    # Why the model chose the label, when the call asked (the algorithm service's
    # explanations.py); such a call is never coalesced.
    explanation: NotRequired[dict[str, Any]]


class BatchPrediction(TypedDict):
    """A PredictBatch answer: the texts' predictions, in order, and the version that made them."""

    predictions: list[Scored]
    model_id: str


class Prediction(Scored):
    """A Predict answer: one text's prediction, with the version that made it."""


SendBatch = Callable[[list[str], str, list[Origin]], BatchPrediction]
SendBatchAsync = Callable[[list[str], str, list[Origin]], Awaitable[BatchPrediction]]
Outcome = Prediction | Exception


class CoalescerOptions(TypedDict):
    """How a coalescer batches and fails, as its keyword arguments (after send_batch)."""

    max_batch: int
    max_in_flight: int
    timeout: float
    busy_error: Callable[[], Exception]
    is_per_text_error: NotRequired[Callable[[Exception], bool]]


def _no_text_alone(error: Exception) -> bool:
    """For callers whose texts were each checked before they joined a batch: a refused batch
    is refused for every text in it."""
    return False


def answers(reply: BatchPrediction) -> list[Outcome]:
    """A PredictBatch reply's predictions, each naming the version that answered, and each
    with its explanation if the call asked for them."""
    return [
        _answer(scored, scored.get("model_id") or reply["model_id"])
        for scored in reply["predictions"]
    ]


def _answer(scored: Scored, model_id: str) -> Prediction:
    answer = Prediction(
        label=scored["label"],
        scores=scored["scores"],
        prediction_id=scored["prediction_id"],
        reference=scored["reference"],
        model_id=model_id,
    )
    if scored.get("explanation") is not None:
        answer["explanation"] = scored["explanation"]
    return answer


class _Queued(Protocol):
    text: str
    model_id: str
    origin: Origin


Q = TypeVar("Q", bound=_Queued)


class _Batches(Generic[Q]):
    """The queue of predictions waiting for a call, and which of them go out together: the
    oldest request whose model has a free call, and up to max_batch - 1 more for that model,
    in order. Calls under way are counted per model, so a slow first load of one version
    never holds up predictions for another. Not locked: each coalescer guards it its own way.
    """

    def __init__(self, max_batch: int, max_in_flight: int):
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self.queue: list[Q] = []
        self._in_flight: collections.Counter[str] = collections.Counter()

    def take(self) -> list[Q]:
        """The next batch, counted as under way; empty if every queued model's calls are
        all taken."""
        model_id = next(
            (
                pending.model_id
                for pending in self.queue
                if self._in_flight[pending.model_id] < self._max_in_flight
            ),
            None,
        )
        if model_id is None:
            return []
        batch: list[Q] = []
        rest: list[Q] = []
        for pending in self.queue:
            if pending.model_id == model_id and len(batch) < self._max_batch:
                batch.append(pending)
            else:
                rest.append(pending)
        self.queue = rest
        self._in_flight[model_id] += 1
        return batch

    def done(self, model_id: str) -> None:
        self._in_flight[model_id] -= 1

    def abandon(self, pending: Q) -> None:
        if pending in self.queue:
            self.queue.remove(pending)

    @staticmethod
    def call(batch: list[Q]) -> tuple[list[str], str, list[Origin]]:
        """send_batch's arguments for a batch: its texts, their model, their origins."""
        COALESCED_BATCH_TEXTS.observe(len(batch))
        texts = [pending.text for pending in batch]
        return texts, batch[0].model_id, [pending.origin for pending in batch]


@dataclass(eq=False)
class _Pending:
    text: str
    model_id: str
    origin: Origin
    outcome: Outcome | None = None
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
        is_per_text_error: Callable[[Exception], bool] = _no_text_alone,
    ):
        """send_batch(texts, model_id, origins) answers {"predictions": [...], "model_id"} or
        raises.

        A request still unanswered after timeout seconds raises busy_error(); a batch that
        fails with an error is_per_text_error accepts (one text, or the batch's size, at
        fault) is sent again one text at a time, so each request gets its own verdict. By
        default none is: the caller checked each text before it joined a batch.
        """
        self._send_batch = send_batch
        self._timeout = timeout
        self._busy_error = busy_error
        self._is_per_text_error = is_per_text_error
        self._lock = threading.Lock()
        self._batches: _Batches[_Pending] = _Batches(max_batch, max_in_flight)

    @property
    def queued(self) -> int:
        """Predictions waiting for a call."""
        with self._lock:
            return len(self._batches.queue)

    def predict(self, *, text: str, model_id: str, origin: Origin = INTERNAL) -> Prediction:
        """One prediction, {"label", "scores", "prediction_id", "reference", "model_id"}, sent
        alone or with others."""
        pending = _Pending(text, model_id, origin)
        deadline = time.monotonic() + self._timeout
        with self._lock:
            self._batches.queue.append(pending)
        while True:
            with self._lock:
                if pending.outcome is not None:
                    break
                batch = self._batches.take()
                if not batch:
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

    def _abandon(self, pending: _Pending) -> None:
        with self._lock:
            self._batches.abandon(pending)

    def _send(self, batch: list[_Pending]) -> None:
        outcomes: list[Outcome] = [self._busy_error()] * len(batch)
        try:
            outcomes = self._call(batch)
        except Exception as error:
            outcomes = [error] * len(batch)
        finally:
            model_id = batch[0].model_id
            with self._lock:
                self._batches.done(model_id)
                for pending, outcome in zip(batch, outcomes, strict=True):
                    pending.outcome = outcome
                    pending.wakeup.set()
                # The oldest request waiting for this model's call takes it over.
                waiting = next((p for p in self._batches.queue if p.model_id == model_id), None)
                if waiting is not None:
                    waiting.wakeup.set()

    def _call(self, batch: list[_Pending]) -> list[Outcome]:
        try:
            reply = self._send_batch(*_Batches.call(batch))
        except Exception as error:
            if len(batch) == 1 or not self._is_per_text_error(error):
                raise
            return [self._single(pending) for pending in batch]
        return answers(reply)

    def _single(self, pending: _Pending) -> Outcome:
        try:
            return self._call([pending])[0]
        except Exception as error:
            return error


@dataclass(eq=False)
class _AsyncPending:
    text: str
    model_id: str
    origin: Origin
    # Its result is the outcome, an answer or an exception, so that an abandoned request's
    # error is never left unretrieved.
    outcome: asyncio.Future[Outcome]


class AsyncPredictionCoalescer:
    """PredictionCoalescer's counterpart on one event loop: the same batches and per-text
    verdicts, with a task per call instead of the sending thread."""

    def __init__(
        self,
        send_batch: SendBatchAsync,
        max_batch: int,
        max_in_flight: int,
        timeout: float,
        busy_error: Callable[[], Exception],
        is_per_text_error: Callable[[Exception], bool] = _no_text_alone,
    ):
        self._send_batch = send_batch
        self._timeout = timeout
        self._busy_error = busy_error
        self._is_per_text_error = is_per_text_error
        self._batches: _Batches[_AsyncPending] = _Batches(max_batch, max_in_flight)
        # Tasks under way, held so that none is collected before it ends.
        self._calls: set[asyncio.Task[None]] = set()

    async def predict(self, *, text: str, model_id: str, origin: Origin = INTERNAL) -> Prediction:
        future = asyncio.get_running_loop().create_future()
        pending = _AsyncPending(text, model_id, origin, future)
        self._batches.queue.append(pending)
        self._dispatch()
        try:
            async with asyncio.timeout(self._timeout):
                outcome = await pending.outcome
        except TimeoutError:
            self._batches.abandon(pending)
            raise self._busy_error() from None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _dispatch(self) -> None:
        while batch := self._batches.take():
            call = asyncio.create_task(self._send(batch))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)

    async def _send(self, batch: list[_AsyncPending]) -> None:
        try:
            outcomes = await self._call(batch)
        except Exception as error:
            outcomes = [error] * len(batch)
        self._batches.done(batch[0].model_id)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.outcome.done():  # not abandoned
                pending.outcome.set_result(outcome)
        self._dispatch()

    async def _call(self, batch: list[_AsyncPending]) -> list[Outcome]:
        try:
            reply = await self._send_batch(*_Batches.call(batch))
        except Exception as error:
            if len(batch) == 1 or not self._is_per_text_error(error):
                raise
            return [await self._single(pending) for pending in batch]
        return answers(reply)

    async def _single(self, pending: _AsyncPending) -> Outcome:
        try:
            return (await self._call([pending]))[0]
        except Exception as error:
            return error
