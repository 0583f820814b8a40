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

from assistant.results import Answer, Passage

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
        return [Shown(i + 1, p) for i, p in enumerate(answer.passages[:CLOSEST])]
    return [Shown(c.number, c.passage, c.highlights) for c in answer.cited]


def find_shown(answer: Answer, number: int) -> Shown | None:
    return next((s for s in shown_passages(answer) if s.number == number), None)


# --- chat -------------------------------------------------------------------------------------------

def user_message(question: str) -> str:
    return md_literal(question)


def answer_message(answer: Answer, turn: int, time_aware: bool = True, explicit_as_of: bool = False,
                   today: date | None = None) -> str:
    """The answer as chat markdown: escaped sentences, each followed by a link-styled [n] marker; a
    chronological answer is a list with each sentence's article date first. The last line always says
    which date the question was read against (see time_line)."""
    if answer.abstained:
        text = "**No answer found in the articles.** The closest passages are listed beside the chat."
    elif answer.chronological:
        text = "\n".join(f"- **{md_literal(s.published_at or 'undated')}** {md_literal(s.text)} "
                         f"{_marker(turn, s.citation)}" for s in answer.sentences)
    else:
        text = " ".join(f"{md_literal(s.text)} {_marker(turn, s.citation)}" for s in answer.sentences)
    if answer.note:
        text += f"\n\n*{md_literal(answer.note)}*"
    line = time_line(answer, time_aware, explicit_as_of, today)
    if line:
        text += f"\n\n*{md_literal(line)}*"
    return text


def _marker(turn: int, number: int) -> str:
    return f"[\\[{number}\\]](#cite-{cite_key(turn, number)})"


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


def panel_html(answer: Answer | None, turn: int = 0, selected: int | None = None) -> str:
    """The passages of one answer as clickable cards (data-cite names them for the click handler)."""
    if answer is None:
        return ('<div class="panel-empty">Ask a question: the passages it cites appear here, with the '
                'supporting sentences highlighted. Select one to read the whole article.</div>')
    shown = shown_passages(answer)
    if answer.abstained:
        heading = "No answer: the closest passages"
    else:
        heading = f"Sources ({len(shown)})"
    out = [f'<div class="panel" data-turn="{turn}">',
           f'<div class="panel-head"><strong>{esc(heading)}</strong>'
           f'<span class="panel-q">for “{esc(answer.question)}”</span></div>']
    if not shown:
        out.append('<div class="panel-empty">No passages matched (check the filters).</div>')
    for item in shown:
        p = item.passage
        classes = "cite-card" + (" selected" if item.number == selected else "") + (
            " closest" if answer.abstained else "")
        out.append(
            f'<div class="{classes}" id="passage-{item.number}" data-cite="{cite_key(turn, item.number)}" '
            f'role="button" tabindex="0" title="Show the whole article">'
            f'<div class="card-head"><span class="num">[{item.number}]</span> '
            f'<span class="title">{esc(p.title) or "(untitled)"}</span></div>'
            f'<div class="meta">{meta_line(p.title, p.source, p.published_at, p.url)}</div>'
            f'{also_reported_html(p.also_reported_by)}'
            f'<div class="passage-text">{highlighted(p.text, item.highlights)}</div>'
            f'</div>'
        )
    out.append("</div>")
    return "".join(out)


def also_reported_html(sources: Sequence[str]) -> str:
    """"Also reported by: X, Y": the outlets of near-duplicate articles folded into this passage's."""
    names = [name for name in dict.fromkeys(str(s).strip() for s in sources or ()) if name]
    if not names:
        return ""
    return f'<div class="also">Also reported by: {esc(", ".join(names))}</div>'


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
        f'<div class="article-title">{esc(label)}{esc(article.title) or "(untitled)"}</div>'
        f'<div class="meta">{meta_line(article.title, article.source, article.published_at, article.url)}'
        f'{" · " + esc(authors) if authors else ""}</div>'
        f'<div class="article-body">{"".join(pieces)}</div></div>'
    )


def article_missing(article_id: str) -> str:
    return f'<div class="article-empty">The article “{esc(article_id)}” is no longer in the index.</div>'
