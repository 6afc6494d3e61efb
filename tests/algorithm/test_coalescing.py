"""Concurrent predictions in one process share PredictBatch calls, each keeping its own answer."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from algorithm.domain.errors import InvalidArgument, Unavailable
from common.coalescing import INTERNAL, AsyncPredictionCoalescer, Origin, PredictionCoalescer
from tests import support


def scored(texts: list[str], origins: list[Origin]) -> list[dict]:
    """Each text's label its upper-cased self, its prediction id its reference and text."""
    return [
        {
            "label": t.upper(),
            "scores": {t.upper(): 1.0},
            "prediction_id": f"{o.reference}:{t}",
            "reference": o.reference,
        }
        for t, o in zip(texts, origins, strict=True)
    ]


class Recorder:
    """Answers each text with its upper-cased self; holds the first call until released."""

    def __init__(self, hold_first: bool = False, fail=None):
        self.calls: list[tuple[list[str], str, str]] = []
        self.origins: list[list[Origin]] = []
        self.release = threading.Event()
        self.first_call_started = threading.Event()
        self.hold_first = hold_first
        self.fail = fail or (lambda texts: None)

    def __call__(self, texts: list[str], model_id: str, origins: list[Origin]) -> dict:
        self.calls.append((list(texts), model_id, threading.current_thread().name))
        self.origins.append(list(origins))
        if self.hold_first and len(self.calls) == 1:
            self.first_call_started.set()
            assert self.release.wait(10)
        if error := self.fail(texts):
            raise error
        return {"predictions": scored(texts, origins), "model_id": model_id or "active"}


def coalescer(send, max_batch=64, max_in_flight=1, timeout=5) -> PredictionCoalescer:
    return PredictionCoalescer(
        send,
        max_batch=max_batch,
        max_in_flight=max_in_flight,
        timeout=timeout,
        busy_error=lambda: Unavailable("Busy; try again shortly."),
        is_per_text_error=lambda error: isinstance(error, InvalidArgument),
    )


def test_a_lone_prediction_goes_out_at_once_on_the_callers_thread():
    send = Recorder()

    answer = coalescer(send).predict(text="hi", model_id="")

    assert answer == {
        "label": "HI",
        "scores": {"HI": 1.0},
        "prediction_id": ":hi",
        "reference": "",
        "model_id": "active",
    }
    assert send.calls == [(["hi"], "", threading.current_thread().name)]
    assert send.origins == [[INTERNAL]]


def predict_while_first_call_is_held(send, texts_and_models, **options):
    """Start one prediction, queue the others behind its held call, then release it."""
    subject = coalescer(send, **options)
    with ThreadPoolExecutor(len(texts_and_models) + 1) as pool:
        first = pool.submit(subject.predict, text="first", model_id="")
        assert send.first_call_started.wait(5)
        others = [pool.submit(subject.predict, text=t, model_id=m) for t, m in texts_and_models]
        # Each other one waits in the queue or has gone out in a call of its own model.
        support.wait_until(
            lambda: (
                subject.queued + sum(len(texts) for texts, _, _ in send.calls[1:]) == len(others)
            ),
            5,
            "every other prediction queued or sent",
        )
        send.release.set()
        return first.result(5), [future.result(5) for future in others]


def test_predictions_queued_behind_a_call_share_the_next_call_and_keep_their_answers():
    send = Recorder(hold_first=True)
    texts = [f"text {i}" for i in range(10)]

    first, others = predict_while_first_call_is_held(send, [(t, "") for t in texts])

    assert first["label"] == "FIRST"
    assert [answer["label"] for answer in others] == [t.upper() for t in texts]
    assert len(send.calls) == 2
    assert sorted(send.calls[1][0]) == sorted(texts)


def test_texts_sharing_a_call_keep_each_their_own_origin_and_prediction_id():
    send = Recorder(hold_first=True)
    subject = coalescer(send)
    origins = {t: Origin(f"ref-{t}", f"token:{t}", f"req-{t}") for t in ("a", "b", "c")}
    with ThreadPoolExecutor(4) as pool:
        pool.submit(subject.predict, text="first", model_id="")
        assert send.first_call_started.wait(5)
        queued = {
            t: pool.submit(subject.predict, text=t, model_id="", origin=origin)
            for t, origin in origins.items()
        }
        support.wait_until(lambda: subject.queued == 3, 5, "all three queued")
        send.release.set()
        answers = {t: future.result(5) for t, future in queued.items()}

    assert {t: answer["prediction_id"] for t, answer in answers.items()} == {
        "a": "ref-a:a",
        "b": "ref-b:b",
        "c": "ref-c:c",
    }
    (texts, _, _), sent = send.calls[1], send.origins[1]
    assert dict(zip(texts, sent, strict=True)) == origins


def test_a_call_carries_at_most_max_batch_texts():
    send = Recorder(hold_first=True)

    predict_while_first_call_is_held(send, [(f"t{i}", "") for i in range(7)], max_batch=3)

    assert [len(texts) for texts, _, _ in send.calls] == [1, 3, 3, 1]


def test_predictions_for_different_models_never_share_a_call():
    send = Recorder(hold_first=True)
    requests = [("a1", "model-a"), ("b1", "model-b"), ("a2", "model-a"), ("b2", "model-b")]

    _, others = predict_while_first_call_is_held(send, requests)

    assert [answer["model_id"] for answer in others] == ["model-a", "model-b"] * 2
    for texts, model_id, _ in send.calls[1:]:
        assert {t[0] for t in texts} == {model_id[-1]}


def test_a_bad_text_fails_only_its_own_request():
    def fail(texts):
        if "bad" in texts:
            return InvalidArgument("texts[0] must not be empty.")
        return None

    send = Recorder(hold_first=True, fail=fail)
    subject = coalescer(send)
    with ThreadPoolExecutor(4) as pool:
        pool.submit(subject.predict, text="first", model_id="")
        assert send.first_call_started.wait(5)
        good = pool.submit(subject.predict, text="good", model_id="")
        bad = pool.submit(subject.predict, text="bad", model_id="")
        support.wait_until(lambda: subject.queued == 2, 5, "both queued")
        send.release.set()

        assert good.result(5)["label"] == "GOOD"
        with pytest.raises(InvalidArgument, match=r"^texts\[0\] must not be empty\.$"):
            bad.result(5)


def test_without_a_per_text_rule_a_refused_batch_is_refused_for_each_of_its_texts():
    """As the algorithm service coalesces: each text was checked before it joined."""
    send = Recorder(
        hold_first=True,
        fail=lambda texts: InvalidArgument("No such version.") if len(texts) > 1 else None,
    )
    subject = PredictionCoalescer(
        send, max_batch=64, max_in_flight=1, timeout=5, busy_error=lambda: Unavailable("Busy.")
    )
    with ThreadPoolExecutor(4) as pool:
        pool.submit(subject.predict, text="first", model_id="")
        assert send.first_call_started.wait(5)
        queued = [pool.submit(subject.predict, text=t, model_id="") for t in ("a", "b")]
        support.wait_until(lambda: subject.queued == 2, 5, "both queued")
        send.release.set()

        for future in queued:
            with pytest.raises(InvalidArgument, match="No such version"):
                future.result(5)
    assert len(send.calls) == 2


def test_an_unavailable_service_fails_the_whole_batch_without_retrying_each_text():
    send = Recorder(
        hold_first=True, fail=lambda texts: Unavailable("The model store is unreachable.")
    )

    with pytest.raises(Unavailable, match="unreachable"):
        predict_while_first_call_is_held(send, [("a", ""), ("b", "")])

    assert len(send.calls) == 2


def test_a_request_that_cannot_get_a_call_in_time_gets_a_503():
    send = Recorder(hold_first=True)
    subject = coalescer(send, timeout=0.3)
    with ThreadPoolExecutor(2) as pool:
        pool.submit(subject.predict, text="first", model_id="")
        assert send.first_call_started.wait(5)
        with pytest.raises(Unavailable, match="Busy"):
            subject.predict(text="late", model_id="")
        send.release.set()

    assert [texts for texts, _, _ in send.calls] == [["first"]]


def test_a_held_call_for_one_model_does_not_hold_up_another_model():
    send = Recorder(hold_first=True)
    subject = coalescer(send)
    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(subject.predict, text="slow", model_id="model-a")
        assert send.first_call_started.wait(5)

        answer = subject.predict(text="quick", model_id="model-b")

        assert answer["model_id"] == "model-b"
        assert not held.done()
        send.release.set()
        assert held.result(5)["model_id"] == "model-a"


class AsyncRecorder:
    """Recorder's counterpart on an event loop: holds the first call until released."""

    def __init__(self, hold_first: bool = False, fail=None):
        self.calls: list[tuple[list[str], str]] = []
        self.release = asyncio.Event()
        self.hold_first = hold_first
        self.fail = fail or (lambda texts: None)

    async def __call__(self, texts: list[str], model_id: str, origins: list[Origin]) -> dict:
        self.calls.append((list(texts), model_id))
        if self.hold_first and len(self.calls) == 1:
            await self.release.wait()
        if error := self.fail(texts):
            raise error
        return {"predictions": scored(texts, origins), "model_id": model_id or "active"}


def on_event_loop(send, requests, max_batch=64, timeout=5, release_after=True):
    """Each (text, model_id) predicted concurrently on one event loop, the first call held
    until every request is queued: each answer, or the exception it raised."""

    async def run():
        subject = AsyncPredictionCoalescer(
            send,
            max_batch=max_batch,
            max_in_flight=1,
            timeout=timeout,
            busy_error=lambda: Unavailable("Busy; try again shortly."),
            is_per_text_error=lambda error: isinstance(error, InvalidArgument),
        )
        tasks = [asyncio.create_task(subject.predict(text=t, model_id=m)) for t, m in requests]
        await asyncio.sleep(0.05)
        if release_after:
            send.release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(run())


def test_on_an_event_loop_a_lone_prediction_goes_out_at_once():
    send = AsyncRecorder()

    [answer] = on_event_loop(send, [("hi", "")])

    assert answer == {
        "label": "HI",
        "scores": {"HI": 1.0},
        "prediction_id": ":hi",
        "reference": "",
        "model_id": "active",
    }
    assert send.calls == [(["hi"], "")]


def test_on_an_event_loop_predictions_queued_behind_a_call_share_the_next_calls():
    send = AsyncRecorder(hold_first=True)
    texts = [f"text {i}" for i in range(7)]

    answers = on_event_loop(send, [("first", ""), *((t, "") for t in texts)], max_batch=3)

    assert [answer["label"] for answer in answers] == ["FIRST", *(t.upper() for t in texts)]
    assert [len(texts) for texts, _ in send.calls] == [1, 3, 3, 1]


def test_on_an_event_loop_models_never_share_a_call_nor_wait_for_each_other():
    send = AsyncRecorder(hold_first=True)
    requests = [("a0", "model-a"), ("b1", "model-b"), ("a2", "model-a"), ("b2", "model-b")]

    answers = on_event_loop(send, requests)

    assert [answer["model_id"] for answer in answers] == ["model-a", "model-b"] * 2
    # model-b's first call went out while model-a's was held.
    assert send.calls[1] == (["b1"], "model-b")
    for texts, model_id in send.calls:
        assert {t[0] for t in texts} == {model_id[-1]}


def test_on_an_event_loop_a_bad_text_fails_only_its_own_request():
    send = AsyncRecorder(
        hold_first=True,
        fail=lambda texts: (
            InvalidArgument("texts[0] must not be empty.") if "bad" in texts else None
        ),
    )

    first, good, bad = on_event_loop(send, [("first", ""), ("good", ""), ("bad", "")])

    assert (first["label"], good["label"]) == ("FIRST", "GOOD")
    assert isinstance(bad, InvalidArgument)


def test_on_an_event_loop_a_request_that_cannot_get_a_call_in_time_gets_a_503():
    send = AsyncRecorder(hold_first=True)

    async def run():
        subject = AsyncPredictionCoalescer(
            send,
            max_batch=64,
            max_in_flight=1,
            timeout=0.2,
            busy_error=lambda: Unavailable("Busy; try again shortly."),
            is_per_text_error=lambda error: False,
        )
        first = asyncio.create_task(subject.predict(text="first", model_id=""))
        await asyncio.sleep(0.01)  # its call is out, and held
        with pytest.raises(Unavailable, match="Busy"):
            await subject.predict(text="late", model_id="")
        send.release.set()
        with pytest.raises(Unavailable, match="Busy"):  # it waited past its time too
            await first
        await asyncio.sleep(0.05)

    asyncio.run(run())

    # The late request, abandoned, was never sent.
    assert send.calls == [(["first"], "")]
