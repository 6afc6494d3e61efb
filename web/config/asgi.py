"""ASGI entry point, served by gunicorn's uvicorn workers (see web/gunicorn.conf.py).

Predictions are answered on the event loop (web/algorithm_proxy/predict_asgi.py); every
other request goes to Django's WSGI application, on a pool of WEB_THREADS threads per worker,
exactly as it would be served without this module.
"""

import os

from a2wsgi import WSGIMiddleware

from web.config.wsgi import application as django_application

# isort: split
# Imports models: only once the line above has set Django up.
from web.algorithm_proxy.predict_asgi import PredictApp

_django = WSGIMiddleware(django_application, workers=int(os.environ.get("WEB_THREADS") or 16))
_predict = PredictApp()


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and _predict.serves(scope):
        await _predict(scope, receive, send)
    else:
        await _django(scope, receive, send)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _predict.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
