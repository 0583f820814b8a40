"""The records that flow through ingestion: articles, their sentences and their chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article with its metadata; `body` is the clean text all offsets refer to."""

    id: str
    title: str
    body: str
    source: str = ""
    authors: tuple[str, ...] = ()
    published_at: str | None = None  # ISO date, YYYY-MM-DD
    url: str | None = None
    path: str | None = None

    @property
    def content_hash(self) -> str:
        """Hash of the text only, so the same article under another name is recognised."""
        return text_hash(self.title.strip() + "\n" + self.body.strip())

    @property
    def record_hash(self) -> str:
        """Hash of text and metadata: any change means the stored copy must be replaced."""
        meta = "|".join([self.source, ";".join(self.authors), self.published_at or "", self.url or ""])
        return text_hash(self.content_hash + "|" + meta)


@dataclass(frozen=True)
class Sentence:
    """A sentence as a character span of its article's body."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """Consecutive whole sentences of one article, the unit that is embedded and searched."""

    position: int  # order within the article
    start: int  # character offsets in the article body
    end: int
    first_sentence: int  # index into the article's sentence list
    last_sentence: int  # inclusive
    text: str
    n_tokens: int = 0


@dataclass(frozen=True)
class Problem:
    """Why one input (file, line or URL) was skipped; printed as one line."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class LoadResult:
    """Articles read from some inputs, plus the inputs that could not be read."""

    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
