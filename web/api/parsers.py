import io
from typing import Any

from django.conf import settings
from rest_framework import parsers

from web.api.exceptions import PayloadTooLarge


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, held to DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF reads the request stream itself, so Django's body size check never runs
    for JSON; without this, any body size would be parsed into memory.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge()
        return super().parse(io.BytesIO(body), media_type, parser_context)
