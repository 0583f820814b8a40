"""Raw page or file text → the clean article body that every offset refers to."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Page furniture: whole short lines that are navigation, sharing or sign-up prompts, never prose.
_FURNITURE_LINE = re.compile(
    r"""^\s*(
        (subscribe|sign\ up|register)\b.{0,80}(newsletter|on|to|for|now|today|here)\b.{0,60}
      | (share|tweet|email|print)\ (this|via|article|story)\b.{0,60}
      | (share|tweet)\ on\b.{0,60}
      | share\ (on\ )?(facebook|twitter|x|linkedin|whatsapp|reddit)\b.{0,60}
      | follow\ us\b.{0,80}
      | (click|tap)\ here\b.{0,80}
      | (leave|post|add|view|show|load)\ (a\ |all\ |more\ )?comments?\b.{0,40}
      | \d+\ comments?
      | comments?(\ \(\d+\))?
      | advertisement|sponsored(\ content)?|skip\ to\ (main\ )?content
      | (read|see)\ (more|also|next)\s*:.{0,120}
      | related(\ (articles|stories|coverage))?\s*:.{0,120}
      | (copyright\s*(©|\(c\)|\d{4})|©).{0,100}|.{0,100}all\ rights\ reserved\.?
      | we\ use\ cookies\b.{0,120}|accept\ (all\ )?cookies
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AUTHOR_BLOCK = re.compile(r"^\s*(about\ the\ authors?|about\ the\ writer)\s*:?\s*$", re.IGNORECASE | re.VERBOSE)
_MAX_FURNITURE_LINE = 160
# "..., the council said." is reported news, never furniture, even when it starts like a prompt.
_REPORTED = re.compile(r",\s+(\w+\s+){0,3}(said|says|told|urged|added|warned|announced)\b", re.IGNORECASE)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(?=\S)", re.MULTILINE)


@dataclass(frozen=True)
class CleanText:
    title: str | None
    body: str


def normalize_whitespace(text: str) -> str:
    """One space inside lines, paragraphs separated by one blank line, no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in block.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def strip_furniture(text: str) -> str:
    """Drop sharing/sign-up/comment lines and 'About the Author' blocks, keep every real sentence."""
    kept: list[str] = []
    paragraphs = text.split("\n\n")
    skip_author_block = False
    for paragraph in paragraphs:
        lines = paragraph.split("\n")
        if _AUTHOR_BLOCK.match(lines[0]):
            skip_author_block = len(lines) == 1  # a bare heading: the biography is the next paragraph
            continue
        if skip_author_block:
            # The biography paragraph that follows the heading; stop at the next long news paragraph.
            skip_author_block = False
            if len(paragraph) < 600:
                continue
        lines = [ln for ln in lines if not _is_furniture(ln)]
        if lines:
            kept.append("\n".join(lines))
    return "\n\n".join(kept)


def _is_furniture(line: str) -> bool:
    return len(line) <= _MAX_FURNITURE_LINE and bool(_FURNITURE_LINE.match(line)) and not _REPORTED.search(line)


def looks_like_title(line: str) -> bool:
    """A short first line without sentence-final punctuation reads as a headline."""
    line = line.strip()
    if not line or len(line) > 150 or len(line.split()) > 25:
        return False
    return not line.endswith((".", ",", ";", ":")) or line.endswith("...")


def split_title(text: str) -> CleanText:
    """Take a markdown heading or a headline-like first line as the title."""
    first, _, rest = text.partition("\n")
    heading = re.match(r"^#{1,6}\s+(.*)$", first)
    if heading:
        return CleanText(title=heading.group(1).strip(), body=rest.strip())
    if rest.strip() and looks_like_title(first):
        return CleanText(title=first.strip(), body=rest.strip())
    return CleanText(title=None, body=text.strip())


def clean_plain_text(text: str, detect_title: bool = True) -> CleanText:
    text = strip_furniture(normalize_whitespace(text))
    if detect_title:
        return split_title(text)
    return CleanText(title=None, body=text)


def strip_markdown(text: str, keep_first_heading: bool = True) -> str:
    """Keep the words of markdown, drop its markup (links keep their text, images go).

    Heading marks go too, except on the first line when `keep_first_heading` (split_title reads it
    as the title there)."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^[ \t]{0,3}(>|[-*+][ \t]|\d+\.[ \t])[ \t]*", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    head = re.match(r"\s*[^\n]*", text).end() if keep_first_heading else 0
    return text[:head] + _HEADING.sub("", text[head:])
