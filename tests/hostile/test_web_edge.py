"""Attacks on web's edge: the request line, headers and body as a client sends them, over raw
sockets where a well-behaved HTTP client would refuse to send them."""

import contextlib
import io
import json
import re
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.hostile import bounds

BODY_LIMIT = 4 * 2**20


def _address(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.hostname, parsed.port


def _head(method: str, path: str, host: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one answer, framed by Content-Length or chunked."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data[:200]!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    stream = sock.makefile("rb")
    buffered = io.BytesIO(rest)

    def read(size: int) -> bytes:
        got = buffered.read(size)
        return got + (stream.read(size - len(got)) if len(got) < size else b"")

    def readline() -> bytes:
        line = buffered.readline()
        return line if line.endswith(b"\n") else line + stream.readline()

    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int(readline().strip(), 16):
            body += read(size)
            readline()
    else:
        body = read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def _exchange(url: str, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(head + body)
        return _read_answer(sock)


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"]


def test_a_second_content_length_named_with_an_underscore_cannot_lift_the_body_limit(stack):
    """64 MiB declared by Content-Length, 10 bytes by `Content_Length`: web stops reading at
    its 4 MiB limit and answers 413, holding no more than that in memory."""
    host = "127.0.0.1:" + str(_address(stack.web)[1])
    size = 64 * 2**20
    head = _head(
        "POST",
        "/api/predict/",
        host,
        [
            ("Authorization", _token(stack.predict_headers)),
            ("Content-Type", "application/json"),
            ("Content-Length", str(size)),
            ("Content_Length", "10"),
        ],
    )
    piece = b"a" * 2**20
    pids = bounds.web_worker_pids(stack.env["WEB_PORT"])
    before = {pid: bounds.rss_bytes(pid) for pid in pids}
    peak = dict(before)
    sending = threading.Event()

    def sample() -> None:  # finer than the bounds' own sampling: a peak may last 0.1 s
        while sending.is_set():
            for pid in pids:
                with contextlib.suppress(OSError):
                    peak[pid] = max(peak[pid], bounds.rss_bytes(pid))
            time.sleep(0.01)

    answers = []
    with bounds.held(stack, "a second Content_Length header under a 64 MiB body") as attack:
        for _ in range(3):
            sending.set()
            sampler = threading.Thread(target=sample)
            sampler.start()
            with socket.create_connection(_address(stack.web), timeout=30) as sock:
                sock.sendall(head)
                with contextlib.suppress(OSError):  # web may close once it has refused
                    for _ in range(size // len(piece)):
                        sock.sendall(piece)
                answers.append(_read_answer(sock))
            time.sleep(0.3)
            sending.clear()
            sampler.join()
        attack.keep(3)
    assert [status for status, _, _ in answers] == [413] * 3, answers[0][2][:200]
    assert json.loads(answers[0][2])["message"].startswith("Request body is too large")
    growth = max(peak[pid] - before[pid] for pid in pids)
    assert growth < bounds.RSS_GROWTH_BYTES, f"a web worker grew by {growth / 2**20:.0f} MiB"


def _stalled(url: str, path: str, headers: list[tuple[str, str]]) -> socket.socket:
    """A connection that sent a request's headers, announcing a body it never sends."""
    sock = socket.create_connection(_address(url), timeout=10)
    host = "127.0.0.1:" + str(_address(url)[1])
    sock.sendall(_head("POST", path, host, [*headers, ("Content-Length", "100")]))
    return sock


def _stall_routes(stack) -> list[tuple[str, list[tuple[str, str]]]]:
    auth = ("Authorization", _token(stack.predict_headers))
    return [
        # DRF's JSON parser takes `*/*`; the event-loop path does not, so Django reads the body.
        ("/api/predict/", [auth, ("Content-Type", "*/*")]),
        ("/v2/models/textclf/infer", [auth, ("Content-Type", "application/json")]),
    ]


def test_stalled_request_bodies_hold_no_thread_and_health_answers(stack):
    """40 connections to each route send their headers and never the body they announce:
    health, liveness and predictions go on answering."""
    sockets = []
    try:
        with bounds.held(stack, "80 stalled request bodies") as attack:
            for path, headers in _stall_routes(stack):
                sockets += [_stalled(stack.web, path, headers) for _ in range(40)]
            attack.keep(5)
    finally:
        for sock in sockets:
            sock.close()


def test_a_body_without_a_good_token_is_refused_unread(stack):
    """No body is held for a client without a good token: 401 before a byte of it is sent."""
    for path, content_type in (("/api/data/import/", "text/csv"), ("/api/predict/", "*/*")):
        for token in ([], [("Authorization", "Token not-a-token")]):
            headers = [*token, ("Content-Type", content_type)]
            sock = socket.create_connection(_address(stack.web), timeout=2)
            with sock:
                host = "127.0.0.1:" + str(_address(stack.web)[1])
                sock.sendall(
                    _head("POST", path, host, [*headers, ("Content-Length", str(60 * 2**20))])
                )
                status, _, body = _read_answer(sock)
            assert (path, status) == (path, 401), body


def test_a_body_that_does_not_arrive_in_time_is_answered_408(stack):
    with stack.web_process(REQUEST_BODY_TIMEOUT_SECONDS="1") as web:
        routes = [
            *_stall_routes(stack),
            ("/api/predict/", [("Authorization", _token(stack.predict_headers))]),
        ]
        routes[2][1].append(("Content-Type", "application/json"))  # the event-loop path
        for path, headers in routes:
            with _stalled(web, path, headers) as sock:
                status, _, body = _read_answer(sock)
            assert status == 408, (path, body)
            assert "REQUEST_BODY_TIMEOUT_SECONDS" in json.loads(body)["message"]


def _nearly_whole_body(url: str, path: str, token: str) -> socket.socket:
    """A connection that sent all of a 4 MiB body but its last byte."""
    host, port = _address(url)
    head = _head(
        "POST",
        path,
        f"{host}:{port}",
        [
            ("Authorization", token),
            ("Content-Type", "application/json"),
            ("Content-Length", str(BODY_LIMIT)),
        ],
    )
    sock = socket.create_connection((host, port), timeout=10)
    with contextlib.suppress(OSError):  # refused before the last chunk: closed on us
        sock.sendall(head + b" " * (BODY_LIMIT - 1))
    return sock


def test_one_tokens_slow_bodies_hold_a_bounded_share_of_memory(stack):
    """Two tokens each send 24 bodies of 4 MiB but their last byte: a read-only one to a
    route it may not even write to, a predict-only one to predictions. Each web process holds
    at most a quarter of WEB_BODY_MEMORY_BYTES for a token and answers the rest 503 at once,
    while other callers go on."""
    senders = [
        (_token(stack.token("slow-reader", "read")), "/api/data/"),
        (_token(stack.token("slow-predictor", "predict")), "/api/predict/"),
    ]
    with bounds.held(stack, "48 bodies of 4 MiB held by two tokens") as attack:
        with ThreadPoolExecutor(8) as pool:
            sockets = list(
                pool.map(
                    lambda sender: _nearly_whole_body(stack.web, sender[1], sender[0]),
                    senders * 24,
                )
            )
        try:
            attack.keep(3)
            statuses = []
            for sock in sockets:
                sock.settimeout(0.5)
                try:
                    statuses.append(_read_answer(sock)[0])
                except (OSError, ConnectionError):
                    statuses.append(None)  # still held, waiting for its last byte
        finally:
            for sock in sockets:
                sock.close()
    # At most 2 bodies a token in each of the 2 processes.
    assert statuses.count(None) <= 8, statuses
    assert statuses.count(503) == len(statuses) - statuses.count(None), statuses


def _batch_calls(stack) -> float:
    text = requests.get(stack.metrics["algorithm"], timeout=5).text
    pattern = r'^grpc_server_handled_total\{[^}]*grpc_method="PredictBatch"[^}]*\} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def _predict_all(stack, texts: list[str]) -> tuple[float, list[requests.Response]]:
    """PredictBatch calls the algorithm service took to answer these texts, sent 32 at once."""
    sessions = threading.local()

    def predict(text: str) -> requests.Response:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        return sessions.session.post(
            f"{stack.web}/api/predict/",
            json={"text": text},
            headers=stack.predict_headers,
            timeout=30,
        )

    before = _batch_calls(stack)
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(predict, texts))
    return _batch_calls(stack) - before, answers


def test_blank_texts_are_refused_by_web_and_never_split_a_batch(stack):
    """2,000 predictions, every fourth of them only spaces: web refuses the blank ones itself,
    so the others are batched as if they had come alone."""
    texts = [f"{bounds.LEGITIMATE_TEXT} {index}" for index in range(1500)]
    alone, answers = _predict_all(stack, texts)
    assert {answer.status_code for answer in answers} == {200}
    mixed = [text for index in range(500) for text in (*texts[3 * index : 3 * index + 3], "   ")]
    with_blanks, answers = _predict_all(stack, mixed)
    print(f"\nPredictBatch calls: {alone:.0f} for 1,500 texts; {with_blanks:.0f} with 500 blanks")
    assert with_blanks <= 2 * alone + 20, (alone, with_blanks)
    blank = [answer for text, answer in zip(mixed, answers, strict=True) if text == "   "]
    assert {answer.status_code for answer in blank} == {400}
    assert blank[0].json()["extra"]["fields"] == {"text": ["This field may not be blank."]}
    assert all(answer.status_code == 200 for answer in answers if answer not in blank)


def test_a_repeated_host_or_authorization_header_is_refused(stack):
    """Whichever one a layer would take, the request is refused: on the event-loop path
    (predictions) and on Django's."""
    good_host = "127.0.0.1:" + str(_address(stack.web)[1])
    auth = ("Authorization", _token(stack.predict_headers))
    body = b'{"text": "hi"}'
    repeated = {
        # The allowed host last: the one the event-loop path used to take.
        "Host": ("evil.example", [("Host", good_host), auth]),
        "Authorization": (good_host, [("Authorization", "Token another"), auth]),
    }
    for method, path, sent in (
        ("POST", "/api/predict/", body),
        ("GET", "/api/models/", b""),
        ("GET", "/api/health/live/", b""),
    ):
        for name, (host, headers) in repeated.items():
            if sent:
                headers = [*headers, ("Content-Type", "application/json")]
                headers.append(("Content-Length", str(len(sent))))
            status, _, answer = _exchange(stack.web, _head(method, path, host, headers), sent)
            assert (path, name, status) == (path, name, 400), answer
            assert json.loads(answer)["message"] == (
                f"Send one {name} header: this request has more than one."
            )
