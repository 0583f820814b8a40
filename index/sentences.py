"""Article body → sentences with exact character offsets (pysbd: abbreviations, quotes, decimals)."""

from __future__ import annotations

import re
from functools import lru_cache

from index.articles import Sentence

_PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(body: str) -> list[Sentence]:
    """Sentences in reading order; body[s.start:s.end] == s.text always holds.

    Paragraphs and lines are hard boundaries (a headline line never merges with the next line),
    so the segmenter runs on each line separately, which is also faster on long articles.
    """
    sentences: list[Sentence] = []
    for line in re.finditer(r"[^\n]+", body):
        sentences.extend(_segment_line(line.group(), line.start()))
    return sentences


def _segment_line(line: str, offset: int) -> list[Sentence]:
    out: list[Sentence] = []
    cursor = 0
    for piece in _segmenter().segment(line):
        text = piece.strip()
        if not text:
            continue
        found = line.find(text, cursor)
        if found < 0:  # segmenter altered the text: fall back to the rest of the line as one sentence
            rest = line[cursor:].strip()
            if rest:
                start = line.index(rest, cursor)
                out.append(Sentence(offset + start, offset + start + len(rest), rest))
            return out
        out.append(Sentence(offset + found, offset + found + len(text), text))
        cursor = found + len(text)
    return out
