"""Article body → sentences with exact character offsets (pysbd: abbreviations, quotes, decimals)."""

from __future__ import annotations

import re
from functools import lru_cache

from index.articles import Sentence

_PARAGRAPH = re.compile(r"[^\n]+(?:\n[^\n]+)*")
# A "sentence" longer than this (a list, a table, text without punctuation) is cut at the last space
# before the cap (or at the cap where there is none), so no chunk, and no answer sentence, can be huge.
MAX_SENTENCE_CHARS = 1000


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
        for sentence in _segment_line(line.group(), line.start()):
            sentences.extend(cap_sentence(body, sentence) if len(sentence.text) > MAX_SENTENCE_CHARS else [sentence])
    return sentences


def cap_sentence(body: str, sentence: Sentence, cap: int = MAX_SENTENCE_CHARS) -> list[Sentence]:
    """Pieces of at most `cap` characters, cut at whitespace where the piece's second half has some;
    each piece stripped, offsets into `body` exact."""
    pieces: list[Sentence] = []
    start, end = sentence.start, sentence.end
    while start < end:
        while start < end and body[start].isspace():
            start += 1
        if start >= end:
            break
        stop = min(start + cap, end)
        if stop < end:
            space = max(body.rfind(" ", start + cap // 2, stop + 1), body.rfind("\t", start + cap // 2, stop + 1))
            if space > start:
                stop = space
        piece_end = stop
        while piece_end > start and body[piece_end - 1].isspace():
            piece_end -= 1
        pieces.append(Sentence(start, piece_end, body[start:piece_end]))
        start = stop
    return pieces


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
