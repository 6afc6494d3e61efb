"""Web's ASGI app plus the cheapest authenticated endpoint of its hot path:
``bench/empty-async/`` goes through everything `POST /api/predict/` does on the event loop
(token, scope, budget, JSON parser and size limit, validation, request id, metrics, the
answer's headers) and answers a fixed prediction without calling the algorithm service."""

from web.config import asgi

# isort: split
# Import models and URLs: only once web.config.asgi has set Django up.
from bench.web_urls import FIXED_ANSWER
from web.algorithm_proxy.predict_asgi import PredictApp
from web.algorithm_proxy.views import PredictParams


class _EmptyPredictApp(PredictApp):
    async def predictions(self, params: PredictParams) -> dict:
        return FIXED_ANSWER


_empty = _EmptyPredictApp("/bench/empty-async/")


async def application(scope, receive, send) -> None:
    if scope["type"] == "http" and _empty.serves(scope):
        await _empty(scope, receive, send)
    else:
        await asgi.application(scope, receive, send)
