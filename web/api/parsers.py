import io
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from web.api.exceptions import PayloadTooLarge


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, held to DATA_UPLOAD_MAX_MEMORY_SIZE, and a 400 for JSON nested too
    deeply to parse.

    DRF reads the request stream itself, so Django's body size check never runs
    for JSON; without this, any body size would be parsed into memory.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:  # not a ValueError, so DRF's parser lets it through as a 500
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
