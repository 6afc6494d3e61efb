"""URL routes: the whole public API lives under /api/ (and the inference protocol's under
/v2/), the console under /console/."""

from django.conf import settings
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from web.algorithm_proxy.inference_views import InferView, MetadataView, ProbeView
from web.api.views import HealthView, LivenessView, LogView

# The inference protocol's REST form, at the paths its standard clients call (KServe V2).
_MODEL = "v2/models/<str:name>"
_VERSION = f"{_MODEL}/versions/<str:version>"

urlpatterns = [
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/health/live/", LivenessView.as_view(), name="liveness"),
    path("api/log/", LogView.as_view(), name="log"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("web.data.urls")),
    path("api/", include("web.algorithm_proxy.urls")),
    path("api/", include("web.accounts.urls")),
    path("api/", include("web.learning.urls")),
    path("api/", include("web.promotion.urls")),
    path("console/", include("web.console.urls")),
    path("v2", MetadataView.as_view(), name="inference-server"),
    path("v2/health/live", ProbeView.as_view(probe="live"), name="inference-live"),
    path("v2/health/ready", ProbeView.as_view(probe="ready"), name="inference-ready"),
    path(_MODEL, MetadataView.as_view(), name="inference-model"),
    path(_VERSION, MetadataView.as_view(), name="inference-version"),
    path(f"{_MODEL}/ready", ProbeView.as_view(), name="inference-model-ready"),
    path(f"{_VERSION}/ready", ProbeView.as_view(), name="inference-version-ready"),
    path(f"{_MODEL}/infer", InferView.as_view(), name="inference-infer"),
    path(f"{_VERSION}/infer", InferView.as_view(), name="inference-version-infer"),
    # gunicorn serves no static files and the only ones are the few Swagger UI
    # assets, so they are served from the installed apps rather than adding a
    # static-file server to the stack.
    re_path(
        rf"^{settings.STATIC_URL.strip('/')}/(?P<path>.*)$",
        serve_static,
        {"insecure": True},
    ),
]

handler400 = "web.api.views.bad_request"
handler403 = "web.api.views.permission_denied"
handler404 = "web.api.views.not_found"
handler500 = "web.api.views.server_error"
