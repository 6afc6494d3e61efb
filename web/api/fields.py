from typing import Any, ClassVar

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses non-strings instead of turning 5 into "5"."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
