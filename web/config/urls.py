"""URL routes: the whole public API lives under /api/."""

from django.conf import settings
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from web.api.views import HealthView, LivenessView, LogView

urlpatterns = [
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/health/live/", LivenessView.as_view(), name="liveness"),
    path("api/log/", LogView.as_view(), name="log"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("web.data.urls")),
    path("api/", include("web.algorithm_proxy.urls")),
    path("api/", include("web.accounts.urls")),
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
