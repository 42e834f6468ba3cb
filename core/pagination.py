"""Admin changelists over tables too big to COUNT(*) or to OFFSET through whole rows."""

from typing import Any, cast

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL, the planner's row estimate instead of a COUNT(*) over millions of rows,
    whenever that estimate is large (page links are then approximate; small results are exact).

    Deep pages are fetched in two steps: the page's primary keys first (OFFSET over an index
    that holds the ordering and the key, no row, join or annotation built for the skipped
    rows), then those rows. Page 1000 of a million sessions costs what page 1 does, nearly.
    """

    EXACT_BELOW = 10000
    # From this offset on, the two-step fetch (below it the plain query is as fast).
    KEYS_FIRST_FROM = 1000

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        queryset = self.object_list
        if bottom < self.KEYS_FIRST_FROM or not isinstance(queryset, QuerySet):
            return Page(queryset[bottom:top], number, self)
        keys = list(queryset.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.filter(pk__in=keys)}
        return Page([rows[key] for key in keys if key in rows], number, self)

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
