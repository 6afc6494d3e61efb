from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from web.accounts.authentication import TokenGrant
from web.accounts.scopes import Scope, grants, required_scope


class InsufficientScope(exceptions.PermissionDenied):
    def __init__(self, needed: Scope, held: tuple[str, ...]) -> None:
        super().__init__(
            f"This request needs a token with the '{needed}' scope; this token has "
            f"{', '.join(repr(scope) for scope in held)}. Ask an admin for a token with "
            f"the '{needed}' scope."
        )
        # The exception handler puts these under the error body's `extra`.
        self.extra = {"required_scope": needed.value, "token_scopes": list(held)}


class HasRequiredScope(BasePermission):
    """An authenticated token whose scopes grant what the view needs (web/accounts/scopes.py):
    no token is a 401, a token without the scope a 403 that names it."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if not isinstance(request.auth, TokenGrant):
            return False
        needed = required_scope(view, request.method)
        if not grants(request.auth.scopes, needed):
            raise InsufficientScope(needed, request.auth.scopes)
        return True
