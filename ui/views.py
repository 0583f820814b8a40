"""Pure functions from engine results to display strings.

Everything that came from an article (title, source, body, URL) or from a user is untrusted: it is
escaped here, in one place, so the rest of the UI can treat these strings as safe to render.
HTML goes to gr.HTML (which sets innerHTML), chat text goes to the Chatbot's markdown renderer."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from assistant.results import Answer, Filters, Passage

CLOSEST = 3  # passages offered for inspection when the assistant abstains (as the CLI does)

# Characters that start inline markdown (code, emphasis, strike-through, links, escapes) anywhere in a line.
# Lines never start inside a message (newlines become spaces), so block syntax matters only at the start.
_INLINE_SPECIAL = set("\\`*_~[]@")
_BLOCK_START = re.compile(r"^(?:[#>+=|-]|\d+[.)])")
_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


@dataclass(frozen=True)
class Shown:
    """One passage as listed in the panel: its [number] and the highlights within its text."""

    number: int
    passage: Passage
    highlights: tuple[tuple[int, int], ...] = ()


def esc(text: object) -> str:
    """HTML-escape anything (quotes included, so the result is also safe inside attributes)."""
    return html.escape("" if text is None else str(text), quote=True)


def md_literal(text: str) -> str:
    """Text the Chatbot's markdown renderer shows verbatim: no markup, HTML, entities or mail links.

    Escapes as little as it can (backslashes, &lt;), because the Chatbot's copy button and screen readers
    see this source text."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    text = _ENTITY_LIKE.sub("&amp;", text).replace("<", "&lt;")
    text = "".join("\\" + ch if ch in _INLINE_SPECIAL else ch for ch in text)
    match = _BLOCK_START.match(text)
    if match:  # "# x", "> x", "- x", "1. x" would become a heading, quote or list
        end = match.end()
        text = text[:end - 1] + "\\" + text[end - 1:]
    return text


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link, else None: no javascript:, data: or relative links."""
    if not url:
        return None
    url = url.strip()
    if any(ord(ch) < 33 or ch in "\"'<>`\\" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def cite_key(turn: int, number: int) -> str:
    """How a passage is named in links and data attributes: answer index in the conversation, [n]."""
    return f"{turn}-{number}"


def parse_cite_key(key: object) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{1,6})-(\d{1,4})", str(key or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def shown_passages(answer: Answer) -> list[Shown]:
    """The cited passages, or the closest ones when the assistant abstained (no highlights then)."""
    if answer.abstained:
        closest = answer.shown or answer.passages
        return [Shown(i + 1, p) for i, p in enumerate(closest[:CLOSEST])]
    return [Shown(c.number, c.passage, c.highlights) for c in answer.cited]


def find_shown(answer: Answer, number: int) -> Shown | None:
    return next((s for s in shown_passages(answer) if s.number == number), None)


# --- chat -------------------------------------------------------------------------------------------

def user_message(question: str) -> str:
    return md_literal(question)


def answer_message(answer: Answer, turn: int, time_aware: bool = True, explicit_as_of: bool = False,
                   today: date | None = None, max_sentences: int | None = None) -> str:
    """The answer as chat markdown: escaped sentences, each followed by a link-styled [n] marker (its title
    previews the passage); a chronological answer is a list with each sentence's article date first. Then,
    in plain words: why it abstained, how a follow-up was read, why it is shorter than asked, the active
    filters, and the date the question was read against (see time_line)."""
    previews = {c.number: (c.passage, next((s.text for s in answer.sentences if s.citation == c.number), ""))
                for c in answer.cited}

    def markers(sentence) -> str:  # [n] for the sentence's passage, then for the others saying the same
        numbers = (sentence.citation, *(a.citation for a in getattr(sentence, "also", ()) or ()))
        return "".join(_marker(turn, n, previews.get(n)) for n in numbers)

    if answer.abstained:
        text = f"**No answer found in the articles.** {md_literal(abstention_text(answer))}"
    elif getattr(answer, "kind", "answer") == "briefing":
        sizes = {story.citation: len(story.article_ids) for story in getattr(answer, "stories", ())}
        lines = [f"- **{md_literal(s.published_at or 'undated')}** {md_literal(s.text)} {markers(s)}"
                 + (f" *({sizes[s.citation]} articles)*" if sizes.get(s.citation, 1) > 1 else "")
                 for s in answer.sentences]
        more = getattr(answer, "more_stories", 0)
        if more:
            lines.append(f"- *…and {more} more stor{'ies' if more != 1 else 'y'} "
                         f"({getattr(answer, 'window_articles', 0)} articles in all)*")
        text = "\n".join(lines)
    elif answer.chronological:
        text = "\n".join(f"- **{md_literal(s.published_at or 'undated')}** {md_literal(s.text)} {markers(s)}"
                         for s in answer.sentences)
    else:
        text = " ".join(f"{md_literal(s.text)} {markers(s)}" for s in answer.sentences)
    notes = [plain_note(answer.note)]
    if (not answer.abstained and getattr(answer, "kind", "answer") == "answer" and max_sentences
            and len(answer.sentences) < max_sentences):
        notes.append(shorter_note(len(answer.sentences), max_sentences))
    notes = [n for n in notes if n]
    if notes:
        text += f"\n\n*{md_literal(' · '.join(notes))}*"
    line = " · ".join(x for x in (filters_line(answer.filters), time_line(answer, time_aware, explicit_as_of, today))
                      if x)
    if line:
        text += f"\n\n*{md_literal(line)}*"
    return text


_WEAK = re.compile(r"(?:;\s*)?evidence too weak \(confidence [0-9.]+\)")


def plain_note(note: str) -> str:
    """The engine's note without its score jargon ("evidence too weak (confidence 0.09)"): the abstention
    line says the same in words."""
    return _WEAK.sub("", note or "").strip(" ;")


def abstention_text(answer: Answer) -> str:
    """Why there is no answer, in plain words: the engine's own reason when it gives one, else what the
    retrieval found."""
    reason = str(getattr(answer, "reason", "") or "").strip()
    if reason:
        reason = reason[0].upper() + reason[1:]
        reason = reason if reason.endswith((".", "!", "?")) else reason + "."
    elif not (answer.shown or answer.passages):
        reason = ("No article matches your filters." if not answer.filters.is_empty()
                  else "The index has no passages to search.")
        return reason
    else:
        reason = "None of the passages found has a sentence that answers it closely enough."
    return reason + " The closest passages are listed under Sources."


def shorter_note(got: int, asked: int) -> str:
    return (f"{got} sentence{'s' if got != 1 else ''}, not {asked}: the other sentences found were much weaker "
            "matches or repeated these")


def filters_line(filters: Filters | None) -> str:
    """The active filters in words ("" when none), e.g. "Only Harbor Times · published 2020-06-01 to 2020-06-30"."""
    if filters is None or filters.is_empty():
        return ""
    parts = []
    if filters.sources:
        parts.append("Only " + ", ".join(filters.sources))
    if filters.date_from and filters.date_to:
        parts.append(f"published {filters.date_from} to {filters.date_to}")
    elif filters.date_from:
        parts.append(f"published from {filters.date_from}")
    elif filters.date_to:
        parts.append(f"published up to {filters.date_to}")
    if filters.article_ids:
        parts.append(f"{len(filters.article_ids)} chosen article(s)")
    return "Filters: " + " · ".join(parts)


def _marker(turn: int, number: int, preview: tuple[Passage, str] | None = None) -> str:
    """[n] as a link to #cite-<turn>-<n>; its title (title · source · date: the sentence) previews the
    passage on hover and focus (the page script turns it into a tooltip)."""
    title = ""
    if preview is not None:
        passage, sentence = preview
        words = " · ".join(x for x in (passage.title or "(untitled)", passage.source, passage.published_at) if x)
        title = " " + '"' + _title_text(f"[{number}] {words}: {sentence}") + '"'
    return f"[\\[{number}\\]](#cite-{cite_key(turn, number)}{title})"


def _title_text(text: str) -> str:
    """Text safe inside a markdown link title: no double quotes, backslashes, angle brackets, ampersands or
    line breaks (the renderer escapes the attribute; this keeps markup out of the message source too)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text.translate(str.maketrans({'"': "”", "\\": "/", "<": "‹", ">": "›", "&": "＆"}))[:300]


def time_line(answer: Answer, time_aware: bool = True, explicit_as_of: bool = False,
              today: date | None = None) -> str:
    """Plain text: the date the question was read against and what the dates did, e.g.
    "As of 2020-06-12 (the newest article's date) · Searching articles from June 2020"."""
    if not answer.as_of:
        return ""
    if explicit_as_of:
        origin = "as set in the options"
    elif answer.as_of == (today or date.today()).isoformat():
        origin = "today"
    else:
        origin = "the newest article's date"
    line = f"As of {answer.as_of} ({origin})"
    if not time_aware:
        return f"{line} · all dates searched: dates in the question were not used"
    return f"{line} · {answer.time_note}" if answer.time_note else line


def time_shaped(answer: Answer, time_aware: bool = True, explicit_as_of: bool = False) -> bool:
    """Whether dates shaped this answer (a window or preference from the question, or a set "as of"), so
    that asking again over all dates could change it: what the "Search all dates" button is offered for."""
    return time_aware and bool(answer.time_note or answer.time_window or explicit_as_of)


def all_dates_message(question: str) -> str:
    """The user's turn when a question is asked again without its dates."""
    return f"{md_literal(question)} *(again, over all dates)*"


def error_message(message: str) -> str:
    return f"**Could not answer:** {md_literal(message)}"


# --- passages panel -----------------------------------------------------------------------------------

def meta_line(title: str, source: str | None, published_at: str | None, url: str | None) -> str:
    """Source · date · link, escaped; the link only for http(s) URLs, opened in a new tab."""
    parts = [f'<span class="src">{esc(source)}</span>' if source else "",
             f'<span class="date">{esc(published_at)}</span>' if published_at else ""]
    link = safe_url(url)
    if link:
        parts.append(f'<a class="link" href="{esc(link)}" target="_blank" rel="noopener noreferrer nofollow" '
                     f'title="{esc(link)}">open original ↗</a>')
    elif url:
        parts.append(f'<span class="link bad" title="not an http(s) link">{esc(url)}</span>')
    return " · ".join(p for p in parts if p)


def highlighted(text: str, spans: Iterable[tuple[int, int]], css_class: str = "hl") -> str:
    """Escaped text with <mark> around the given (start, end) spans (clipped, merged when overlapping)."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, a), min(len(text), b)) for a, b in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, cursor = [], 0
    for start, end in merged:
        out.append(esc(text[cursor:start]))
        out.append(f'<mark class="{css_class}">{esc(text[start:end])}</mark>')
        cursor = end
    out.append(esc(text[cursor:]))
    return "".join(out)


def panel_html(answer: Answer | None, turn: int = 0, selected: int | None = None, copy_text: str = "") -> str:
    """The passages of one answer as cards (data-cite names them for the click handler). Each card's title
    is a button that opens the article; the passage text is a keyboard-scrollable region. `copy_text` (the
    answer as clean text with its sources) backs the panel's "Copy answer" button."""
    if answer is None:
        return ('<div class="panel-empty">Ask a question: the passages it cites appear here, with the '
                'supporting sentences highlighted. Select one to read the whole article.</div>')
    shown = shown_passages(answer)
    heading = "No answer: the closest passages" if answer.abstained else f"Sources ({len(shown)})"
    out = [f'<div class="panel" data-turn="{turn}">',
           f'<div class="panel-head"><h2 class="panel-title">{esc(heading)}</h2>'
           f'<span class="panel-q">for “{esc(answer.question)}”</span>'
           + (f'<button type="button" class="copy-answer">Copy answer with sources</button>'
              f'<pre class="copy-text" hidden>{esc(copy_text)}</pre>' if copy_text else "")
           + '</div>']
    if not shown:
        out.append(f'<div class="panel-empty">{esc(abstention_text(answer).split(" The closest")[0])}</div>')
    for item in shown:
        p = item.passage
        classes = "cite-card" + (" selected" if item.number == selected else "") + (
            " closest" if answer.abstained else "")
        key = cite_key(turn, item.number)
        out.append(
            f'<div class="{classes}" id="passage-{item.number}" data-cite="{key}">'
            f'<div class="card-head"><button type="button" class="open-article" data-cite="{key}" '
            f'aria-pressed="{"true" if item.number == selected else "false"}" '
            f'title="Show the whole article"><span class="num">[{item.number}]</span> '
            f'<span class="title">{esc(p.title) or "(untitled)"}</span></button></div>'
            f'<div class="meta">{meta_line(p.title, p.source, p.published_at, p.url)}</div>'
            f'{also_reported_html(p.also_reported_by)}'
            f'<div class="passage-text" tabindex="0" role="region" aria-label="Passage [{item.number}]">'
            f'{highlighted(p.text, item.highlights)}</div>'
            f'</div>'
        )
    out.append("</div>")
    return "".join(out)


def panel_error_html(message: str) -> str:
    """The panel after a question that could not be answered: empty, saying so (no older answer's cards)."""
    return f'<div class="panel-empty" role="status">No sources: {esc(message)}</div>'


def also_reported_html(sources: Sequence[str]) -> str:
    """"Also reported by: X, Y": the outlets of near-duplicate articles folded into this passage's."""
    names = [name for name in dict.fromkeys(str(s).strip() for s in sources or ()) if name]
    if not names:
        return ""
    return f'<div class="also">Also reported by: {esc(", ".join(names))}</div>'


# --- corpus ---------------------------------------------------------------------------------------------

def articles_table_html(rows: Sequence[dict]) -> str:
    """The Corpus tab's table: escaped cells, dates on one line, a keyboard-scrollable box."""
    head = "".join(f'<th scope="col" class="col-{k}">{esc(label)}</th>' for k, label in
                   (("title", "Title"), ("source", "Source"), ("date", "Date"), ("chunks", "Chunks"), ("id", "ID")))
    body = "".join(
        f'<tr><td class="col-title">{esc(r["title"]) or "(untitled)"}</td><td class="col-source">'
        f'{esc(r["source"] or "")}</td><td class="col-date">{esc(r["published_at"] or "")}</td>'
        f'<td class="col-chunks">{esc(r["chunks"])}</td><td class="col-id">{esc(r["id"])}</td></tr>'
        for r in rows)
    if not rows:
        body = '<tr><td colspan="5">The index has no articles yet: add some below.</td></tr>'
    return (f'<div class="articles-box" tabindex="0" role="region" aria-label="Articles in the index">'
            f'<table class="articles"><caption>Articles in the index, newest first</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


def feeds_table_html(feeds: Sequence) -> str:
    """The Corpus tab's feeds (index.feeds.FeedInfo: RSS/Atom feeds and sitemaps the index has ingested or
    polled) with their last poll and its outcome; escaped cells."""
    head = "".join(f'<th scope="col" class="col-{k}">{esc(label)}</th>' for k, label in
                   (("feed", "Feed"), ("title", "Title"), ("poll", "Last poll (UTC)"), ("status", "Last result"),
                    ("items", "Items seen")))
    body = "".join(
        f'<tr><td class="col-feed">{esc(f.url)}</td><td class="col-title">{esc(f.title or "")}</td>'
        f'<td class="col-poll">{esc((f.last_poll or "never").replace("T", " ").replace("+00:00", ""))}</td>'
        f'<td class="col-status">{esc(f.last_status or "")}</td><td class="col-items">{esc(f.items_seen)}</td></tr>'
        for f in feeds)
    if not feeds:
        body = ('<tr><td colspan="5">No feeds yet: <code>assistant ingest FEED_URL</code> or '
                '<code>assistant watch FEEDS_FILE</code> adds them.</td></tr>')
    return (f'<div class="articles-box" tabindex="0" role="region" aria-label="Feeds of the index">'
            f'<table class="articles feeds"><caption>Feeds and sitemaps, with their last poll</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')


# --- article view -----------------------------------------------------------------------------------

def article_placeholder() -> str:
    return '<div class="article-empty">Select a passage or an [n] marker to read the whole article here.</div>'


def article_html(article, supporting: Sequence[tuple[int, int]], passage_span: tuple[int, int] | None,
                 number: int | None = None) -> str:
    """The whole article body with the supporting sentences marked in place (offsets into the body) and
    the passage's extent shaded; the first mark is scrolled into view by the component's script."""
    body: str = article.body
    bounds = {0, len(body)}
    for a, b in list(supporting) + ([passage_span] if passage_span else []):
        bounds.update((max(0, min(a, len(body))), max(0, min(b, len(body)))))
    cuts = sorted(bounds)
    pieces = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a == b:
            continue
        text = esc(body[a:b])
        if any(s <= a and b <= e for s, e in supporting):
            text = f'<mark class="hl">{text}</mark>'
        if passage_span and passage_span[0] <= a and b <= passage_span[1]:
            text = f'<span class="in-passage">{text}</span>'
        pieces.append(text)
    authors = ", ".join(getattr(article, "authors", ()) or ())
    label = f"[{number}] " if number is not None else ""
    return (
        f'<div class="article" data-article-id="{esc(article.id)}">'
        f'<h2 class="article-title">{esc(label)}{esc(article.title) or "(untitled)"}</h2>'
        f'<div class="meta">{meta_line(article.title, article.source, article.published_at, article.url)}'
        f'{" · " + esc(authors) if authors else ""}</div>'
        f'<div class="article-body" tabindex="0" role="region" aria-label="Article text">{"".join(pieces)}</div>'
        f'</div>'
    )


def article_missing(article_id: str) -> str:
    return f'<div class="article-empty">The article “{esc(article_id)}” is no longer in the index.</div>'
