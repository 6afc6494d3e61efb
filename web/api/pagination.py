from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M`; a page_size above the maximum is lowered to it."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
