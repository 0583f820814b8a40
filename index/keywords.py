"""BM25 keyword index over chunk texts: tantivy (Rust, segment-based), updated in place, one document per chunk.

Texts are tokenized here exactly as the previous bm25s index did (bm25s's regex, its English stopwords,
PyStemmer's English Snowball stemmer) and handed to tantivy pre-tokenized (whitespace tokenizer), so both
engines see the same terms; tantivy scores them with BM25 (k1 1.2, b 0.75, one-byte field norms), bm25s
with k1 1.5: eval/bench_keyword.py measures the difference (within 0.005 nDCG@10 and Hit@5 on SciFact,
RealTime QA and BBC) and the speed (p50 well under 1 ms at 30k chunks, a few ms at 1M, where bm25s took
167 ms and SQLite FTS5's bm25() hundreds).

A document holds the chunk's id (`cid`, a fast field, so hits map to ids without reading stored
documents) and its article's published day (`day`, days since 1970-01-01, filters.UNDATED when it has
none; a fast field, so a date window is a range filter inside the one top-k search, issue 16). Adding
or removing chunks touches only their documents, and a commit is atomic (tantivy replaces its meta.json).
The folder is derived from the database: see index/store.py for how it is kept
in step with it and checked.
"""

from __future__ import annotations

import math
import re
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.filters import UNDATED

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default splitter
WRITER_HEAP = 128_000_000
MAX_WIDENING = 64  # a masked search asks for at most this many times k before scanning every match
# The documents' layout: recorded in keyword.json, and an index of another format is rebuilt (1: text and
# cid; 2: the day field added).
FORMAT = 2


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lowercased words of two or more characters, English stopwords removed, stemmed."""
    stop = _stopwords()
    return _stemmer().stemWords([w for w in _TOKEN.findall(text.lower()) if w not in stop])


def _schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field("cid", stored=False, indexed=True, fast=True)
    builder.add_integer_field("day", stored=False, indexed=True, fast=True)
    return builder.build()


class KeywordIndex:
    """A tantivy index (in `folder`, or in memory when folder is None) of chunk id -> text."""

    def __init__(self, index, folder: Path | None):
        self.index = index
        self.folder = folder

    @classmethod
    def open(cls, folder: Path | None, create: bool = False) -> KeywordIndex:
        import tantivy

        if folder is None:
            return cls(tantivy.Index(_schema()), None)
        if not create and not (folder / "meta.json").exists():
            raise FileNotFoundError(f"{folder}: no keyword index")
        folder.mkdir(parents=True, exist_ok=True)
        return cls(tantivy.Index(_schema(), path=str(folder), reuse=not create), folder)

    def apply(self, additions: list[tuple], removals: list[int]) -> None:
        """Delete the removed (and re-added) chunk ids, add the new (chunk id, text[, day]) documents (no day:
        UNDATED), commit once. Idempotent: replaying the same changes leaves the same documents."""
        import tantivy

        if not additions and not removals:
            return
        writer = self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
        try:
            for cid in {*removals, *(a[0] for a in additions)}:
                writer.delete_documents_by_term("cid", int(cid))
            for cid, text, *day in additions:
                writer.add_document(tantivy.Document(cid=int(cid), text=" ".join(terms(text)),
                                                     day=int(day[0]) if day else UNDATED))
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # merges finish before the files are checksummed
        self.index.reload()

    def view(self, chunk_ids: np.ndarray) -> KeywordView:
        """A fixed searcher over the current commit; hits are reported as positions in `chunk_ids` (sorted)."""
        self.index.reload()
        return KeywordView(self.index, self.index.searcher(), chunk_ids)


class KeywordView:
    """One commit's documents, searched by position (the snapshot's chunk order)."""

    def __init__(self, index, searcher, chunk_ids: np.ndarray):
        self.index = index
        self.searcher = searcher
        self.chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self.size = int(searcher.num_docs)

    def search(self, query: str, k: int, mask: np.ndarray | None = None,
               days: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) best first; only positions where mask is true and, with `days` (first, last
        day numbers, inclusive), only chunks of articles published in that window or undated: a filter
        inside tantivy's top-k search, with the same BM25 scores as an unfiltered search. No zero-score hits."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        words = terms(query)
        if self.size == 0 or k <= 0 or not words:
            return empty
        import tantivy

        tq, schema = tantivy.Query, self.index.schema
        query_obj = tq.boolean_query([(tantivy.Occur.Should, tq.term_query(schema, "text", w)) for w in words])
        if days is not None:
            window = tq.boolean_query([
                # Over the day terms' postings (a few thousand documents a month), which lead the
                # intersection: 2.3 ms p50 at 1M chunks against 7.9 ms for the fast-field column scan and
                # 4.9 ms for the unfiltered search (runs of eval/bench_living.py's queries, RESULTS.md).
                (tantivy.Occur.Should, tq.range_query(schema, "day", tantivy.FieldType.Integer, int(days[0]),
                                                      int(days[1]), use_inverted_index=True)),
                (tantivy.Occur.Should, tq.term_query(schema, "day", UNDATED))])
            query_obj = tq.boolean_query([(tantivy.Occur.Must, query_obj),
                                          (tantivy.Occur.Must, tq.const_score_query(window, 0.0))])
        allowed = self.size if mask is None else int(np.count_nonzero(mask))
        if allowed == 0:
            return empty
        # With a mask, ask for as many hits as should leave k allowed ones, widening until k are found or
        # every match has been seen.
        limit = k if mask is None else min(self.size, math.ceil(k * self.size / allowed * 1.5) + 16)
        while True:
            result = self.searcher.search(query_obj, limit, count=False)
            hits = result.hits
            positions, scores = self._positions(hits)
            if mask is not None:
                keep = mask[positions]
                positions, scores = positions[keep], scores[keep]
            if len(positions) >= k or len(hits) < limit or limit >= self.size:
                break
            limit = min(self.size, limit * 4 if limit < k * MAX_WIDENING else self.size)
        keep = scores > 0
        return positions[keep][:k], scores[keep][:k]

    def _positions(self, hits) -> tuple[np.ndarray, np.ndarray]:
        if not hits:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.fromiter((h[0] for h in hits), dtype=np.float32, count=len(hits))
        cids = np.asarray(self.searcher.fast_field_values("cid", [h[1] for h in hits]), dtype=np.int64)
        positions = np.searchsorted(self.chunk_ids, cids)
        positions = np.minimum(positions, len(self.chunk_ids) - 1)
        found = self.chunk_ids[positions] == cids  # a document for a chunk this view lacks would be a bug
        if not found.all():
            raise RuntimeError("keyword index holds chunks the database lacks; it will be rebuilt")
        return positions.astype(np.int64), scores


# -- bm25s, in memory -------------------------------------------------------------------------------------


def tokenize(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)


class Bm25Index:
    """In-memory BM25 (bm25s) over texts, positions 0..n-1: whole-article search (ArticleKeywords) and the
    Milvus backend's keyword side. The embedded store's chunk index is the tantivy `KeywordIndex` above."""

    def __init__(self, bm25=None, size: int = 0):
        self.bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> Bm25Index:
        import bm25s

        if not texts:
            return cls(None, 0)
        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(model, len(texts))

    def save(self, folder: Path) -> None:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "size.txt").write_text(str(self.size))
        if self.bm25 is not None:
            self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        import bm25s

        size = int((folder / "size.txt").read_text())
        if size == 0:
            return cls(None, 0)
        model = bm25s.BM25.load(str(folder), show_progress=False)
        return cls(model, size)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) best first; only positions where mask is true; no zero-score hits."""
        if self.bm25 is None or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        tokens = tokenize([query])
        if not tokens.vocab or not any(tokens.ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query_tokens = [[t for t in self._known(tokens)]]
        if not query_tokens[0]:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        weight = None if mask is None else mask.astype(np.float32)
        docs, scores = self.bm25.retrieve(
            query_tokens, k=min(k, self.size), show_progress=False, n_threads=1, weight_mask=weight
        )
        docs, scores = docs[0].astype(np.int64), scores[0]
        keep = scores > 0
        return docs[keep], scores[keep].astype(np.float32)

    def _known(self, tokens) -> list[str]:
        inverse = {i: w for w, i in tokens.vocab.items()}
        words = [inverse[i] for i in tokens.ids[0]]
        return [w for w in words if w in self.bm25.vocab_dict]


class ArticleKeywords:
    """BM25 over whole articles (the title counted twice, then the text), searched by article key."""

    def __init__(self, keys: np.ndarray, index: Bm25Index):
        self.keys, self.index = keys, index

    @classmethod
    def build(cls, keys: list[int], titles: list[str], texts: list[str]) -> ArticleKeywords:
        return cls(np.asarray(keys, dtype=np.int64),
                   Bm25Index.build([f"{t}\n{t}\n{b}" for t, b in zip(titles, texts, strict=True)]))

    def search(self, text: str, k: int, allowed_keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(article keys, scores) best first, only among `allowed_keys` when given."""
        allowed = None if allowed_keys is None else np.isin(self.keys, allowed_keys)
        found, scores = self.index.search(text, k, allowed)
        return self.keys[found], scores
