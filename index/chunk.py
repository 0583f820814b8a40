"""Sentences → chunks of whole sentences sized in model tokens, with one sentence of overlap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from index.articles import Chunk, Sentence


@dataclass(frozen=True)
class ChunkSettings:
    """Saved in the index manifest: an index is only reused with the same settings."""

    max_tokens: int = 200  # of chunk text; the model truncates at 256 including title and specials
    overlap_sentences: int = 1
    title_in_embedding: bool = True  # embed "title\nchunk" (measured: see eval/RESULTS.md)

    def to_dict(self) -> dict:
        return asdict(self)


def make_chunks(body: str, sentences: Sequence[Sentence], token_counts: Sequence[int],
                settings: ChunkSettings) -> list[Chunk]:
    """Greedy packing: add sentences until the next would pass max_tokens, then start the next
    chunk with the last `overlap_sentences` sentences of this one. A single over-long sentence
    becomes a chunk of its own (the model truncates it; keyword search still sees it all)."""
    if len(sentences) != len(token_counts):
        raise ValueError("one token count per sentence is required")
    chunks: list[Chunk] = []
    first = 0
    n = len(sentences)
    while first < n:
        last = first
        total = token_counts[first]
        while last + 1 < n and total + token_counts[last + 1] <= settings.max_tokens:
            last += 1
            total += token_counts[last]
        start, end = sentences[first].start, sentences[last].end
        chunks.append(Chunk(len(chunks), start, end, first, last, body[start:end], total))
        if last + 1 >= n:
            break
        overlap = min(settings.overlap_sentences, last - first)
        # Overlap only where the next sentence still fits beside it: a chunk of nothing but the
        # previous chunk's last sentence would repeat it without adding anything.
        while overlap and sum(token_counts[last + 1 - overlap:last + 2]) > settings.max_tokens:
            overlap -= 1
        first = last + 1 - overlap
    return chunks


def embedding_text(title: str, chunk_text: str, settings: ChunkSettings) -> str:
    return f"{title}\n{chunk_text}" if settings.title_in_embedding and title else chunk_text
