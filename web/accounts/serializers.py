from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from common import limits
from web.accounts.models import ApiToken
from web.accounts.scopes import DEFAULT_SCOPES, SCOPE_CHOICES, Scope
from web.accounts.services import token_create
from web.api.fields import StrictCharField


class TokenSerializer(serializers.ModelSerializer):
    """A token as listed: everything but its key, which is never stored."""

    user = serializers.CharField(source="user.get_username", read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES))
    fingerprint = serializers.CharField(
        read_only=True,
        help_text="The first 8 hex digits of the key's SHA-256, to tell tokens apart.",
    )

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = (
            "id",
            "user",
            "name",
            "scopes",
            "fingerprint",
            "created_at",
            "expires_at",
            "revoked_at",
        )
        read_only_fields = fields


class TokenCreatedSerializer(TokenSerializer):
    key = serializers.CharField(
        read_only=True,
        help_text="The key to send as `Authorization: Token <key>`. Shown this once only: "
        "only its hash is kept.",
    )

    class Meta(TokenSerializer.Meta):
        fields = (*TokenSerializer.Meta.fields, "key")
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    user = StrictCharField(
        max_length=get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length,
        help_text="Whose token: a user name, created if it is new.",
    )
    name = StrictCharField(
        max_length=limits.MAX_TOKEN_NAME_CHARS,
        required=False,
        allow_blank=True,
        default="",
        help_text="What the token is for, to recognise it in the list.",
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPE_CHOICES),
        min_length=1,
        max_length=len(Scope),
        default=list(DEFAULT_SCOPES),
        help_text="What the token may do; by default read, predict and write.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Never, if absent or null."
    )

    def validate_user(self, value: str) -> str:
        user_model = get_user_model()
        try:
            user_model._meta.get_field(user_model.USERNAME_FIELD).run_validators(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return value

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("An expiry must be in the future.")
        return value

    def create(self, validated_data) -> tuple[ApiToken, str]:
        """The token and its key, by token_create (TokenError for the service user): what
        `save()` returns to the API's view and the console's form alike."""
        return token_create(
            username=validated_data["user"],
            scopes=validated_data["scopes"],
            name=validated_data["name"],
            expires_at=validated_data["expires_at"],
        )
