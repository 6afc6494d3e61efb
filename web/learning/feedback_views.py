"""Feedback: the true label of a logged prediction, by its id or its reference."""

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from web.accounts.authentication import INVALID
from web.accounts.models import ApiToken
from web.accounts.scopes import Scope, grants
from web.api.schema import ErrorSerializer, error_responses
from web.learning.feedback_selectors import feedback_list
from web.learning.feedback_serializers import (
    FeedbackCreateSerializer,
    FeedbackFilterSerializer,
    FeedbackSerializer,
)
from web.learning.feedback_services import (
    DataChangeNotAllowed,
    FeedbackExists,
    PredictionNotLogged,
    TextDiffers,
    TextNotKept,
    feedback_give,
)


class FeedbackConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, error: FeedbackExists) -> None:
        super().__init__(str(error))
        self.extra = {"feedback_id": error.existing.id, "label": error.existing.label}


class DataScopeMissing(exceptions.PermissionDenied):
    """Feedback that would change the data, from a token without the write scope: a 403 in
    the shape of every missing scope's (web/accounts/permissions.py), saying what needed it."""

    def __init__(self, what: str, held: tuple[str, ...]) -> None:
        quoted = ", ".join(repr(scope) for scope in held)
        super().__init__(
            f"{what} needs a token with the '{Scope.WRITE}' scope as well; this token has "
            f"{quoted}. Send the feedback alone, or ask an admin for a token with the "
            f"'{Scope.WRITE}' scope."
        )
        self.extra = {"required_scope": Scope.WRITE.value, "token_scopes": list(held)}


_POST_DESCRIPTION = """\
The true label of a logged prediction, named by `prediction_id` (from the prediction's
answer) or by `reference` (the one sent with the prediction: then the latest logged
prediction carrying it). 201 with the feedback; 200 when it replaced an earlier one.

Only predictions the prediction log kept can get feedback (404 otherwise): uncertain ones
always, a sample of the others, each written a moment after its answer. A prediction takes
one feedback (409) unless `replace` is true. `add_to_data` also adds the text to the data
with this label and the source `feedback`, in the same transaction: the text the log kept,
or, if it kept none, the `text` sent (400 without it). `add_to_data`, and replacing feedback
that added a data row (which relabels the row), need the `write` scope as well (403).
"""


class FeedbackView(generics.ListAPIView):
    # Whoever was answered tells the truth about it: the scope that asked for it.
    required_scope: ClassVar = {"POST": Scope.PREDICT}
    serializer_class = FeedbackSerializer

    def get_queryset(self):
        filters = FeedbackFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return feedback_list(**filters.validated_data)

    @extend_schema(
        summary="Feedback given, newest first",
        parameters=[FeedbackFilterSerializer],
        responses={200: FeedbackSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Give the true label of a prediction",
        description=_POST_DESCRIPTION,
        request=FeedbackCreateSerializer,
        responses={
            201: OpenApiResponse(FeedbackSerializer, description="The feedback, new."),
            200: OpenApiResponse(FeedbackSerializer, description="The feedback, replaced."),
            **error_responses(400, 401, 413),
            404: OpenApiResponse(
                ErrorSerializer,
                description="No logged prediction has this id or reference: the log's policy "
                "did not keep it, it is not written yet, or it is past its retention.",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description='The prediction has feedback already; send "replace": true.',
            ),
        },
    )
    def post(self, request: Request) -> Response:
        params = FeedbackCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            feedback, created = feedback_give(
                **params.validated_data,
                given_by=_giver(request),
                may_change_data=grants(request.auth.scopes, Scope.WRITE),
            )
        except DataChangeNotAllowed as error:
            raise DataScopeMissing(str(error), request.auth.scopes) from None
        except PredictionNotLogged as error:
            raise exceptions.NotFound(str(error)) from None
        except (TextNotKept, TextDiffers) as error:
            raise exceptions.ValidationError({"text": [str(error)]}) from None
        except FeedbackExists as error:
            raise FeedbackConflict(error) from None
        return Response(
            FeedbackSerializer(feedback).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _giver(request: Request) -> str:
    """The request's token as the prediction log names callers: "token:<fingerprint>"."""
    token = ApiToken.objects.only("digest").filter(pk=request.auth.token_id).first()
    if token is None:  # deleted (with its user) since this process checked it
        raise exceptions.AuthenticationFailed(INVALID)
    return f"token:{token.fingerprint}"
