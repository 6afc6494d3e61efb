"""A URLconf with a plain Django view, to drive Django's own error handling in tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def echo_length(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(len(request.body)))


urlpatterns = [path("echo/", echo_length)]

handler400 = "web.api.views.bad_request"
