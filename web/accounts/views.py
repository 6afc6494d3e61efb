"""Token management, for admin tokens only: list, create (the key shown once), revoke."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from web.accounts.models import ApiToken
from web.accounts.scopes import Scope
from web.accounts.selectors import token_list
from web.accounts.serializers import (
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)
from web.accounts.services import TokenError, token_revoke
from web.api.schema import error_responses


class TokenConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class TokenListView(generics.ListAPIView):
    required_scope = Scope.ADMIN
    serializer_class = TokenSerializer

    def get_queryset(self):
        return token_list()

    @extend_schema(
        summary="Every token, revoked ones too, newest first (never a key)",
        responses={200: TokenSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a token; its key is in this answer and nowhere else, ever",
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer, **error_responses(400, 401, 413)},
    )
    def post(self, request: Request) -> Response:
        params = TokenCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            token, key = params.save()
        except TokenError as error:
            raise exceptions.ValidationError({"user": [str(error)]}) from error
        return Response(
            {**TokenSerializer(token).data, "key": key},
            status=status.HTTP_201_CREATED,
            # No cache or proxy on the way may keep the one copy of the key.
            headers={"Cache-Control": "no-store"},
        )


class TokenDetailView(APIView):
    required_scope = Scope.ADMIN

    @extend_schema(
        summary="A token (never its key)",
        responses={200: TokenSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, token_id: int) -> Response:
        token = token_list().filter(pk=token_id).first()
        if token is None:
            raise _not_found(token_id)
        return Response(TokenSerializer(token).data)

    @extend_schema(
        summary="Revoke a token",
        description="Every web process refuses it within API_TOKEN_CACHE_SECONDS (at most "
        "60 s). The record stays, with its `revoked_at`; revoking it again changes nothing. "
        "The service user's token (from API_TOKEN) is replaced by changing API_TOKEN (409).",
        responses={
            204: OpenApiResponse(description="Revoked."),
            **error_responses(401, 404, 409),
        },
    )
    def delete(self, request: Request, token_id: int) -> Response:
        try:
            token_revoke(token_id=token_id)
        except ApiToken.DoesNotExist:
            raise _not_found(token_id) from None
        except TokenError as error:
            raise TokenConflict(str(error)) from error
        return Response(status=status.HTTP_204_NO_CONTENT)


def _not_found(token_id: int) -> exceptions.NotFound:
    return exceptions.NotFound(f"There is no token {token_id}.")
