"""The console's pages on large tables (issue 28: under 300 ms at p50 with 100,000 rows in
`data` and 1,000,000 in the prediction log): the tables filled as weeks of use leave them,
one admin signed in as a browser signs in, then every page of the navigation
(web/console/nav.py, read at run time, so pages added later are measured with no edit here)
and a few of them with a query, each GET timed one at a time, side by side.

Last in the run: it replaces the data table and the prediction log, which no later section
should see (the stack's database goes with the run)."""

import datetime
import json
import re
import secrets
import statistics
import time
from urllib.parse import urlencode

import numpy as np
import requests

from algorithm.domain.store import ModelStore
from bench import data, learning_tables
from bench.context import Context, side_by_side
from bench.targets import Target, at_most
from tests import support

# The bound on every page's p50.
BOUND_MS = 300.0
# The data and the log spread over four weeks: inside the log's retention (30 days).
DAYS = 28
USERNAME = "bench-admin"
# Rounds of every page before the timed ones: the first answers pay one-off costs (templates
# compiled, connections opened, caches filled).
WARM_UP_ROUNDS = 3
# Pages measured once more with a query, by route name, when the navigation has them.
SEARCH = "free"
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _query_variants(now: datetime.datetime) -> dict[str, tuple[tuple[str, dict[str, str]], ...]]:
    return {
        "console:data": (
            ("search", {"search": SEARCH}),
            (
                "filtered",
                {
                    "label": "spam",
                    "source": "review",
                    "since": (now - datetime.timedelta(days=14)).isoformat(),
                },
            ),
        ),
    }


def _pages(ctx: Context) -> dict[str, str]:
    """Page name -> path: the navigation's pages, then their query variants."""
    output = ctx.stack.run("python -m bench.console_pages")
    mark = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    variants = _query_variants(datetime.datetime.now(datetime.UTC))
    pages = {}
    for page in json.loads(mark.removeprefix("BENCH_JSON ")):
        pages[page["title"]] = page["path"]
        for name, query in variants.get(page["url_name"], ()):
            pages[f"{page['title']} ({name})"] = f"{page['path']}?{urlencode(query)}"
    return pages


def _signed_in(ctx: Context) -> requests.Session:
    """A session of a new admin console user, signed in through the sign-in form."""
    password = secrets.token_urlsafe(24)
    ctx.stack.run(
        f"python -m web.manage console_user create {USERNAME} --scope admin", stdin=password
    )
    session = requests.Session()
    sign_in = ctx.stack.url("web", "/console/sign-in/")
    form = session.get(sign_in, timeout=30)
    form.raise_for_status()
    token = _CSRF_FIELD.search(form.text)
    if token is None:
        raise RuntimeError("the sign-in page has no CSRF token field")
    fields = {"username": USERNAME, "password": password, "csrfmiddlewaretoken": token[1]}
    answer = session.post(sign_in, data=fields, allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise RuntimeError(f"signing in answered {answer.status_code}: {answer.text[:500]}")
    return session


def _get(session: requests.Session, url: str) -> dict:
    """One GET, timed to the last byte of the page; anything but a 200 (a redirect to the
    sign-in page, an error) stops the section, as a page not measured is no figure."""
    started = time.perf_counter()
    answer = session.get(url, allow_redirects=False, timeout=60)
    ms = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url} answered {answer.status_code}: {answer.text[:500]}")
    return {"ms": round(ms, 3), "bytes": len(answer.content)}


def _summary(requests_made: list[dict]) -> dict:
    latencies = [request["ms"] for request in requests_made]
    p50, p90 = np.percentile(latencies, (50, 90))
    return {
        "requests": len(latencies),
        "p50_ms": round(float(p50), 3),
        "p90_ms": round(float(p90), 3),
        "max_ms": max(latencies),
        "bytes": round(statistics.median(request["bytes"] for request in requests_made)),
    }


def run(ctx: Context) -> tuple[dict, list[Target]]:
    sizes = ctx.sizes
    store = ModelStore(ctx.stack.model_dir)
    started = time.perf_counter()
    # Each version published here gets its share of the log and of the feedback.
    for _ in range(sizes.console_versions - len(store.list_manifests())):
        support.publish_model(store, data.sms_rows(), activate=False)
    active = store.require_active_id()
    older = [m["model_id"] for m in store.list_manifests() if m["model_id"] != active]
    by_source = data.fill_table(ctx.stack, sizes.console_data_rows, DAYS)
    filled = learning_tables.fill_prediction_log(
        ctx.stack, sizes.console_log_rows, DAYS, [active, *older]
    )
    data.settle(ctx.stack, "data", "predictions", "feedback", "review_items")
    seeded = {
        "data_rows": sizes.console_data_rows,
        "data_by_source": by_source,
        "versions": 1 + len(older),
        "predictions": filled.predictions,
        "uncertain": filled.uncertain,
        "feedback": filled.feedback,
        "review_items": filled.review_items,
        "seconds": round(time.perf_counter() - started, 1),
    }
    session = _signed_in(ctx)
    paths = _pages(ctx)
    url = ctx.stack.url
    for _ in range(WARM_UP_ROUNDS):
        for path in paths.values():
            _get(session, url("web", path))
    runs = {name: (lambda p=path: _get(session, url("web", p))) for name, path in paths.items()}
    pages = side_by_side(runs, sizes.console_requests, _summary)
    for name, path in paths.items():
        pages[name]["path"] = path
    tables = f"{sizes.console_data_rows:,} data rows, {filled.predictions:,} logged predictions"
    targets = [
        at_most(
            f"Console {name} p50", figure["p50_ms"], BOUND_MS, "ms", f"issue 28's bound; {tables}"
        )
        for name, figure in pages.items()
    ]
    return {"seeded": seeded, "pages": pages}, targets
