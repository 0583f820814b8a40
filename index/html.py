"""HTML page → main text and metadata, through trafilatura (no hand-written extraction)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageText:
    text: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: str | None = None
    source: str | None = None
    url: str | None = None


def extract_page(html: str, url: str | None = None) -> PageText:
    """Main text without navigation, comments or scripts; empty text when the page has none."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )
    text = (getattr(doc, "text", None) or "") if doc is not None else ""
    if not text.strip():
        text = trafilatura.html2txt(html) or ""
    if doc is None:
        return PageText(text=text, url=url)
    author = getattr(doc, "author", None) or ""
    return PageText(
        text=text,
        title=getattr(doc, "title", None),
        authors=tuple(a.strip() for a in author.split(";") if a.strip()),
        published_at=getattr(doc, "date", None),
        source=getattr(doc, "sitename", None) or getattr(doc, "hostname", None),
        url=getattr(doc, "url", None) or url,
    )
