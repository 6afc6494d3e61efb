from rest_framework import serializers

from web.api.fields import StrictCharField
from web.data.models import LABEL_MAX_LENGTH, TEXT_MAX_LENGTH, Data


class DataSerializer(serializers.ModelSerializer):
    text = StrictCharField(max_length=TEXT_MAX_LENGTH)
    label = StrictCharField(max_length=LABEL_MAX_LENGTH)

    class Meta:
        model = Data
        fields = ("id", "text", "label", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class DataFilterSerializer(serializers.Serializer):
    """Query parameters of the list; an empty value means no filter."""

    label = serializers.CharField(
        required=False, allow_blank=True, help_text="Only data with exactly this label."
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Only data whose text contains this, ignoring case.",
    )
