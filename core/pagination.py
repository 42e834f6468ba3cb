"""Admin changelists over tables too big to COUNT(*)."""

from typing import Any, cast

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL, the planner's row estimate instead of a COUNT(*) over millions of rows,
    whenever that estimate is large (page links are then approximate; small results are exact)."""

    EXACT_BELOW = 10000

    @cached_property
    def count(self) -> int:
        if connection.vendor == "postgresql":
            try:
                queryset = cast(QuerySet[Any], self.object_list)
                sql, params = queryset.order_by().query.sql_with_params()
            except EmptyResultSet:
                return 0
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                estimate = int(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
            if estimate >= self.EXACT_BELOW:
                return estimate
        return super().count
