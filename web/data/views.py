from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from web.api.schema import error_responses
from web.data.models import Data
from web.data.selectors import data_list
from web.data.serializers import DataFilterSerializer, DataSerializer
from web.data.services import data_bulk_create, data_create, data_delete, data_update

BULK_MAX_ITEMS = 10_000

_OneOrMany = PolymorphicProxySerializer(
    component_name="DataOneOrMany",
    serializers=[DataSerializer, DataSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    list=extend_schema(
        summary="List data",
        parameters=[DataFilterSerializer],
        responses={200: DataSerializer(many=True), **error_responses(400, 401, 404)},
    ),
    create=extend_schema(
        summary="Create one item, or many at once",
        description=(
            "Send one object to create one item, or a list of up to "
            f"{BULK_MAX_ITEMS:,} objects to create them all in one transaction: either every "
            "item is created or, if any item is invalid, none is and the error names each "
            "bad item by its index (`[3].label`). The answer is what was sent, created: one "
            "object, or the list of created objects in the order sent."
        ),
        request=_OneOrMany,
        responses={201: _OneOrMany, **error_responses(400, 401, 413)},
    ),
    retrieve=extend_schema(
        summary="Get one item", responses={200: DataSerializer, **error_responses(401, 404)}
    ),
    update=extend_schema(
        summary="Replace an item's text and label",
        responses={200: DataSerializer, **error_responses(400, 401, 404, 413)},
    ),
    partial_update=extend_schema(
        summary="Change an item's text or label",
        responses={200: DataSerializer, **error_responses(400, 401, 404, 413)},
    ),
    destroy=extend_schema(
        summary="Delete an item",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 404)},
    ),
)
class DataViewSet(viewsets.ModelViewSet):
    """Labelled training data: the examples a model learns from."""

    serializer_class = DataSerializer

    def get_queryset(self) -> QuerySet[Data]:
        if self.action != "list":
            return data_list()
        filters = DataFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return data_list(**filters.validated_data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if isinstance(request.data, list):
            serializer = self.get_serializer(
                data=request.data, many=True, allow_empty=False, max_length=BULK_MAX_ITEMS
            )
            serializer.is_valid(raise_exception=True)
            created = data_bulk_create(items=serializer.validated_data)
            return Response(
                self.get_serializer(created, many=True).data, status=status.HTTP_201_CREATED
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = data_create(**serializer.validated_data)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = data_update(data=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Data) -> None:
        data_delete(data=instance)
