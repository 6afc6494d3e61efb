"""What the console's requests pass through, and only theirs: sessions, the signed-in person,
messages, htmx. The API is never handed a session (its views take tokens only, and no
session cookie is ever sent to its paths: SESSION_COOKIE_PATH), so an API request costs no
session lookup whatever cookies it carries.

Every console answer forbids caching and carries a Content-Security-Policy that allows
nothing but this origin's own files: no inline script or style, no CDN, no frame."""

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django_htmx.middleware import HtmxMiddleware

CONSOLE_PREFIX = "/console/"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'"
)
_COOKIES = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, "messages")


class ConsoleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        # As Django chains settings.MIDDLEWARE: each layer's exceptions become answers.
        chain = convert_exception_to_response(self._answer)
        for layer in (HtmxMiddleware, MessageMiddleware, AuthenticationMiddleware):
            chain = convert_exception_to_response(layer(chain))
        self.console = SessionMiddleware(chain)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(CONSOLE_PREFIX):
            return self.get_response(request)
        response = self.console(request)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        add_never_cache_headers(response)
        if request.is_secure():
            for name in _COOKIES:
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The idle timeout: each request of a signed-in person saves the session, which
        # starts its SESSION_COOKIE_AGE again. (A visitor with no session, or a session key
        # the database does not know, is never saved: no row for them.)
        if request.user.is_authenticated:
            request.session.modified = True
        return response
