"""The web app's routes plus two reference endpoints under the same REST_FRAMEWORK settings
(token authentication, JSON parser and renderer):

- ``bench/empty/``: parses the body and answers a fixed prediction: the cost of the web tier;
- ``bench/empty-async/``: PredictView's route for bench/web_asgi.py, which answers it on the
  event loop without calling the algorithm service;
- ``bench/naive-predict/``: unpickles the model and vectorizer from disk on every request,
  as naive published implementations do (``{"text", "model_id"}``).
"""

import pickle

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from algorithm import settings
from algorithm.domain import ml
from algorithm.domain.store import MODEL_FILE, VECTORIZER_FILE, parse_model_id
from web.algorithm_proxy.views import PredictView
from web.config.urls import handler400, handler403, handler404, handler500
from web.config.urls import urlpatterns as web_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

FIXED_ANSWER = {"label": "ham", "scores": {"ham": 1.0, "spam": 0.0}, "model_id": ""}


class EmptyView(APIView):
    def post(self, request):
        request.data  # noqa: B018 - parsing the body is part of the web tier's cost
        return Response(FIXED_ANSWER)


class NaivePredictView(APIView):
    def post(self, request):
        folder = settings.MODEL_DIR / parse_model_id(request.data["model_id"])
        with (folder / MODEL_FILE).open("rb") as stream:
            classifier = pickle.load(stream)
        with (folder / VECTORIZER_FILE).open("rb") as stream:
            vectorizer = pickle.load(stream)
        [(label, scores)] = ml.predict(vectorizer, classifier, [request.data["text"]])
        return Response({"label": label, "scores": scores, "model_id": folder.name})


urlpatterns = [
    path("bench/empty/", EmptyView.as_view()),
    path("bench/empty-async/", PredictView.as_view()),
    path("bench/naive-predict/", NaivePredictView.as_view()),
    *web_urlpatterns,
]
