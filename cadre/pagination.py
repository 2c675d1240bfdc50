"""Pagination for every API list: limit/offset, bounded."""
from rest_framework.pagination import LimitOffsetPagination


class CustomerPagination(LimitOffsetPagination):
    """limit/offset pages, bounded: ``?limit=`` above ``max_limit`` gets ``max_limit`` rows."""

    default_limit = 100
    max_limit = 1000
