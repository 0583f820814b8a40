"""How one question is asked: every option a caller may set, with its default, in one place.

The UI, the HTTP API, the CLI and the evaluation build one `AskOptions` and pass it down unchanged to
the engine and retrieval, so a new option is added here once. Override with `dataclasses.replace` or
`options.but(k=3)`; None never means "the default" except where a field says so."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date

from index.filters import Filters

MODES = ("hybrid", "dense", "keyword")
MAX_K = 20
MAX_SENTENCES = 10


class OptionError(ValueError):
    """An option out of range; the message is one line naming the option."""


@dataclass(frozen=True, kw_only=True)
class AskOptions:
    filters: Filters = field(default_factory=Filters)
    k: int = 5  # passages shown and answered from
    mode: str = "hybrid"  # dense, keyword or hybrid retrieval
    max_sentences: int = 3  # answer length in sentences
    as_of: date | str | None = None  # the date the question is asked at; None: today or the newest article
    time_aware: bool = True  # read the question's time words ("last week") against as_of
    per_article: int = 2  # at most this many of the k passages from one article; 0: no cap

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise OptionError(f"unknown retrieval mode '{self.mode}' (use {', '.join(MODES)})")
        for name, low, high in (("k", 1, MAX_K), ("max_sentences", 1, MAX_SENTENCES), ("per_article", 0, MAX_K)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise OptionError(f"'{name}' must be a whole number from {low} to {high}, not {value!r}")
        if not isinstance(self.filters, Filters):
            raise OptionError("'filters' must be a Filters value")

    def but(self, **changes) -> AskOptions:
        """A copy with some options changed (unknown names are refused)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise OptionError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)
