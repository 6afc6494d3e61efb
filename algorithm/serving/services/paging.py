"""Pages of the lists the services give out (model versions, jobs, promotion decisions): a
page size and a token, which is an offset this service wrote."""

from algorithm.domain.errors import InvalidArgument
from common import limits


def page_bounds(page_size: object, page_token: str) -> tuple[int, int]:
    """The offset and size a page's request asks for; InvalidArgument for a size out of
    bounds or a token this service did not give out."""
    if not isinstance(page_size, int) or not 0 <= page_size <= limits.MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 0 and {limits.MAX_PAGE_SIZE}.")
    # An offset as the lists give them out: decimal digits, far below a bigint's range.
    if page_token and not (page_token.isascii() and page_token.isdigit() and len(page_token) < 16):
        raise InvalidArgument(
            "page_token is not one this service gave out; start again without it."
        )
    return int(page_token or 0), page_size or limits.DEFAULT_PAGE_SIZE


def next_page_token(offset: int, size: int, total: int) -> str:
    """The token of the page after this one; empty on the last page."""
    return str(offset + size) if offset + size < total else ""
