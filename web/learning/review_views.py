"""The review queue: lease the logged predictions a person's label helps most, one reviewer
at a time, and decide them (web/learning/review_services.py)."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from web.api.schema import ErrorSerializer, error_responses
from web.learning.review_selectors import review_counts, review_leases, reviewer_of_token
from web.learning.review_serializers import (
    ReviewDecisionRequestSerializer,
    ReviewItemSerializer,
    ReviewLeaseRequestSerializer,
    ReviewLeaseSerializer,
    ReviewOverviewSerializer,
)
from web.learning.review_services import (
    ReviewItemNotFound,
    ReviewRefused,
    review_decide,
    review_lease,
)


class ReviewConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _reviewer(request: Request) -> str:
    return reviewer_of_token(token_id=request.auth.token_id)


_LEASE_DESCRIPTION = f"""\
The next logged prediction worth a person's label, leased to you (your token) for
REVIEW_LEASE_SECONDS (now {settings.REVIEW_LEASE_SECONDS} s): no one else is offered it
until you decide it or the lease expires. Only predictions whose text the log kept are
offered, and each text once, however many times it was predicted. Two reviewers leasing at
once get different items. 204 when nothing is left to review."""


class ReviewLeaseView(APIView):
    @extend_schema(
        summary="Lease the next item to review",
        description=_LEASE_DESCRIPTION,
        request=ReviewLeaseRequestSerializer,
        responses={
            200: ReviewLeaseSerializer,
            204: OpenApiResponse(description="Nothing is left to review."),
            **error_responses(400, 401),
            409: OpenApiResponse(
                ErrorSerializer,
                description="You already hold REVIEW_MAX_LEASES "
                f"({settings.REVIEW_MAX_LEASES}) unexpired leases.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        params = ReviewLeaseRequestSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        try:
            item = review_lease(reviewer=_reviewer(request), **params.validated_data)
        except ReviewRefused as error:
            raise ReviewConflict(str(error)) from error
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ReviewLeaseSerializer(item).data)


class ReviewDecisionView(APIView):
    @extend_schema(
        summary="Decide a leased item: accept, correct or skip",
        description="Only the reviewer holding the item's unexpired lease may decide it. "
        "`accept` adds the text to `data` with the label the model predicted, `correct` "
        "with the `label` given (1 to 100 characters), both with the source `review`, in "
        "the same transaction; `skip` adds nothing. The text is never offered again.",
        request=ReviewDecisionRequestSerializer,
        responses={
            200: ReviewItemSerializer,
            **error_responses(400, 401, 404),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The item is not under your unexpired lease: leased to another "
                "reviewer, already decided, or your lease ended. The message says which.",
            ),
        },
    )
    def post(self, request: Request, item_id: int) -> Response:
        params = ReviewDecisionRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            item = review_decide(
                item_id=item_id, reviewer=_reviewer(request), **params.validated_data
            )
        except ReviewItemNotFound as error:
            raise exceptions.NotFound(str(error)) from error
        except ReviewRefused as error:
            raise ReviewConflict(str(error)) from error
        return Response(ReviewItemSerializer(item).data)


class ReviewOverviewView(APIView):
    @extend_schema(
        summary="Your leases, and your items by state",
        responses={200: ReviewOverviewSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        reviewer, now = _reviewer(request), timezone.now()
        overview = {
            "leases": review_leases(reviewer=reviewer, now=now),
            "counts": review_counts(reviewer=reviewer, now=now),
        }
        return Response(ReviewOverviewSerializer(overview).data)
