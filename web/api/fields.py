from typing import Any, ClassVar

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses non-strings instead of turning 5 into "5"."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    """A UUIDField that takes only strings: DRF reads a number (and so true or false) as the
    UUID with that integer value."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes only JSON's true and false: DRF also reads "yes", "0" and 1."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
