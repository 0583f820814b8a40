"""Which articles a question may draw on, and its compilation to a mask over a snapshot's positions.

Filters live in `index` because each store compiles them its own way: the embedded store to a numpy
mask over its positions (`compile_mask`, shared by any backend that keeps the same per-position
arrays), a distributed one to a server-side expression."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import numpy as np


class FilterError(ValueError):
    """A filter the caller must fix (not a date, or a range that ends before it starts); one line."""


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Day numbers (days since 1970-01-01) stand for dates where windows are compared per position: integer
# compares over a million positions cost a fraction of string compares (issue 16). Undated is this value.
UNDATED = -(2**31)
_EPOCH = date(1970, 1, 1).toordinal()


def day_number(value: str | None) -> int:
    """The day number of an ISO date (its first ten characters), UNDATED for None, "" or a malformed one."""
    try:
        return date.fromisoformat(value[:10]).toordinal() - _EPOCH if value else UNDATED
    except ValueError:
        return UNDATED


def day_numbers(values) -> np.ndarray:
    """int32 day numbers of ISO dates (see day_number), computed once per distinct value."""
    cache: dict = {}
    return np.fromiter((cache[v] if v in cache else cache.setdefault(v, day_number(v)) for v in values),
                       dtype=np.int32)


def _check_day(value: object, label: str) -> None:
    if value in (None, ""):
        return
    try:
        if not (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"the '{label}' date must look like 2020-06-10, not {str(value)[:40]!r}") from None


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some sources, articles or a published-date range (ISO dates, inclusive)."""

    sources: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    exclude_article_ids: tuple[str, ...] = ()  # never these articles (e.g. leave-gold-out evaluation)

    def __post_init__(self) -> None:
        _check_day(self.date_from, "from")
        _check_day(self.date_to, "to")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError(f"the date range is empty ({self.date_from} is after {self.date_to})")

    def is_empty(self) -> bool:
        return not (self.sources or self.article_ids or self.date_from or self.date_to or self.exclude_article_ids)

    def within(self, date_from: str | None, date_to: str | None) -> Filters:
        """The same sources and articles, with another date window."""
        return replace(self, date_from=date_from, date_to=date_to)


def compile_mask(filters: Filters | None, *, sources: np.ndarray, dates: np.ndarray, article_positions,
                 keep_undated: bool = False) -> np.ndarray | None:
    """Boolean mask over positions, or None when nothing is filtered. `sources` and `dates` hold each
    position's article source and date: ISO strings ("" when undated) or integer day numbers (UNDATED when
    undated); `article_positions(ids)` gives the mask of those articles' positions. A date range the user
    sets excludes undated articles; a time prior (keep_undated) never penalises them."""
    if filters is None or filters.is_empty():
        return None
    mask = np.ones(len(dates), dtype=bool)
    if filters.sources:
        wanted = {s.lower() for s in filters.sources}
        mask &= np.array([s.lower() in wanted for s in sources], dtype=bool)
    if filters.article_ids:
        mask &= article_positions(set(filters.article_ids))
    if filters.exclude_article_ids:
        mask &= ~article_positions(set(filters.exclude_article_ids))
    if filters.date_from or filters.date_to:
        if np.issubdtype(dates.dtype, np.integer):
            first, last = day_window(filters.date_from, filters.date_to)
            in_range = (dates >= first) & (dates <= last)  # UNDATED is below any first day
            mask &= (in_range | (dates == UNDATED)) if keep_undated else in_range
        else:
            dated = dates != ""
            in_range = dated & (dates >= (filters.date_from or "")) & (dates <= (filters.date_to or "9999"))
            mask &= (in_range | ~dated) if keep_undated else in_range
    return mask


def day_window(date_from: str | None, date_to: str | None) -> tuple[int, int]:
    """(first, last) day numbers of an inclusive ISO date range; an open end reaches the furthest real day."""
    return (day_number(date_from) if date_from else UNDATED + 1,
            day_number(date_to) if date_to else 2**31 - 1)
