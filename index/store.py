"""The store behind one small interface: a writer that applies changes atomically, and
read-only snapshots that searches run against.

`EmbeddedStore` (FAISS + tantivy BM25 + SQLite in one folder) is the default; the Milvus backend
(index/milvus.py) implements the same `Store` and `Snapshot` protocols.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import sys
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index import database as db
from index.articles import Article, Chunk, Sentence
from index.filters import Filters, compile_mask, day_number, day_numbers, day_window
from index.keywords import FORMAT as KEYWORD_FORMAT
from index.keywords import ArticleKeywords, KeywordIndex, KeywordView
from index.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    IndexMismatch,
    Manifest,
    atomic_write_bytes,
    fsync_dir,
    read_manifest,
    write_manifest,
)
from index.vectors import VectorIndex

# What a snapshot's mask() returns and its searches accept: opaque to callers, who combine masks with
# snapshot.intersect() and read them as positions with snapshot.allowed(). The embedded store's masks are
# boolean numpy arrays over positions; a distributed store's may carry a server-side filter expression.
# None: everything.
Mask = object


class IndexNotFound(Exception):
    pass


class StoreError(Exception):
    """The index cannot be read or written as asked; one line naming the file and the problem."""

    exit_code = 1  # the command failed (the CLI's 2 is for requests that are wrong)


class IndexDamaged(StoreError):
    """index.sqlite (the truth) is missing or damaged; nothing was changed or deleted."""


class IndexBusy(StoreError):
    """Another process is ingesting into (or removing from) this index, and the caller would not wait."""


class DerivedFilesNotWritten(StoreError):
    """The change is committed, but FAISS/BM25 could not be written; they are rebuilt from the database
    the next time the index is opened. `generation` is the committed one; `report` is set by ingest."""

    def __init__(self, message: str, generation: int):
        super().__init__(message)
        self.generation = generation
        self.report = None


class SnapshotExpired(Exception):
    """What a snapshot needs to read was changed or removed by a later commit; take a new snapshot.
    (A snapshot holds no read transaction between questions: per-question reads are checked instead.)"""


SQLITE_HEADER = b"SQLite format 3\x00"
WRITER_LOCK = ".writer.lock"  # held for a whole ingest or removal (one writer per index, across processes)
COMMIT_LOCK = ".lock"  # held briefly: for a commit, and while a snapshot is taken


def database_error(path: Path, err: sqlite3.Error, doing: str) -> StoreError:
    """One line for an SQLite error, by its kind: damaged file, disk full, or anything else."""
    name = getattr(err, "sqlite_errorname", "") or ""
    folder = path.parent
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return IndexDamaged(damaged_message(path, str(err)))
    if name.startswith("SQLITE_FULL") or "disk is full" in str(err):
        return StoreError(f"{path}: disk full ({err}) while {doing}; nothing of this change was stored")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"{path}: {err} while {doing}; another process holds the index ({folder}) too long")
    return StoreError(f"{path}: {err} while {doing}")


def damaged_message(path: Path, reason: str) -> str:
    folder = path.parent
    return (f"{path} is damaged: {reason}; nothing was changed. Run 'assistant check --repair --index {folder}' "
            f"(or restore a backup with 'assistant import')")


def check_database_file(path: Path) -> None:
    """Cheap checks before SQLite sees the file: present, an SQLite header, not shorter than its header says.
    (An empty or truncated file would otherwise open as an empty index or fail later in a query.)"""
    if not path.exists():
        raise IndexDamaged(
            f"{path} is missing (it holds the articles); nothing was deleted. Restore the folder from a backup "
            f"('assistant import'), or ingest into a new --index folder")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise IndexDamaged(damaged_message(path, "not an SQLite database (its header is damaged)"
                                                 if header else "the file is empty"))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[24:28] == header[92:96] and size < page_size * pages:  # the page count in the header is valid
        raise IndexDamaged(damaged_message(path, f"truncated ({size:,} of {page_size * pages:,} bytes)"))


def open_database(path: Path, create: bool = False):
    """A connection to an index's database; a missing or damaged one is an IndexDamaged, never a new one."""
    if not create:
        check_database_file(path)
    try:
        conn = db.connect(path, create=create)
        conn.execute("SELECT COUNT(*) FROM meta").fetchone()
    except sqlite3.DatabaseError as err:
        raise database_error(path, err, "opening the index") from None
    return conn


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as searched: its text is article.body[start:end]."""

    id: int
    position: int  # row in the vector and keyword indexes
    article_id: str
    chunk_index: int  # order within the article
    start: int
    end: int
    first_sentence: int
    last_sentence: int
    text: str


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    source: str
    published_at: str | None
    url: str | None
    authors: tuple[str, ...]
    path: str | None
    n_chunks: int


@dataclass(frozen=True)
class StoreStats:
    articles: int
    chunks: int
    sentences: int
    generation: int
    disk_bytes: int


@runtime_checkable
class Snapshot(Protocol):
    """A consistent read view: everything the engine reads, and nothing else. Arrays are indexed by
    position (0..size-1, the order both searches return); article keys are opaque ints, equal for the
    chunks of one article and nothing more (not database row ids). Optional: `search_window(text, vector,
    k, mask, date_from, date_to)` (the embedded snapshot) runs a time prior's searches with the window
    inside them; without it retrieve.py uses the masked searches below. `start_dense(vector, k, mask)`
    and `start_window(...)` (the Milvus snapshot) send their dense searches off and return the calls that
    wait for the hits, so the server's round trips overlap each other and this process's keyword searches;
    without them the searches run in place."""

    manifest: Manifest
    generation: int
    chunk_article_keys: np.ndarray  # the article each position belongs to (an opaque int key)
    chunk_dates: np.ndarray  # its article's published date (str array, YYYY-MM-DD), "" when undated
    chunk_sources: np.ndarray
    lead_chunks: np.ndarray  # True where the chunk opens its article (headline and first sentences)
    newest_date: str  # the newest article's published date, "" when no article has one

    @property
    def size(self) -> int: ...
    def mask(self, filters: Filters | None, keep_undated: bool = False) -> Mask | None: ...
    def intersect(self, a: Mask | None, b: Mask | None) -> Mask | None: ...
    def allowed(self, mask: Mask | None) -> np.ndarray: ...  # the mask as booleans over positions
    def search_dense(self, vector: np.ndarray, k: int, mask: Mask = None) -> tuple[np.ndarray, np.ndarray]: ...
    def search_keyword(self, text: str, k: int, mask: Mask = None) -> tuple[np.ndarray, np.ndarray]: ...
    def search_articles(self, text: str, k: int, mask: Mask = None) -> tuple[np.ndarray, np.ndarray]: ...
    def chunk(self, position: int) -> StoredChunk: ...
    def sentence_vectors(self, position: int) -> np.ndarray: ...
    def near_duplicates(self) -> dict[str, str]: ...
    def sentence_spread(self, texts: Sequence[str]) -> list[int]: ...  # articles holding each, normalised
    def info(self, article_id: str) -> ArticleInfo: ...
    def article(self, article_id: str) -> Article: ...
    def sentences(self, article_id: str) -> list[Sentence]: ...
    def articles(self) -> list[ArticleInfo]: ...
    def close(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    """A writer that applies changes atomically, and the factory of snapshots."""

    manifest: Manifest

    def snapshot(self) -> Snapshot: ...
    def commit(self, additions: list[PreparedArticle], removals: list[str]) -> int: ...
    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]: ...
    def cache_vectors(self, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None: ...
    def stored_hashes(self) -> dict[str, tuple[str, str]]: ...
    def writer(self, wait: bool = True, on_wait=None) -> AbstractContextManager[None]: ...
    def stats(self) -> StoreStats: ...
    def describe(self) -> str: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to store: split, chunked and with one vector hash per chunk."""

    article: Article
    sentences: list[Sentence]
    chunks: list[Chunk]
    vector_hashes: list[str]


class EmbeddedSnapshot:
    """A consistent read view of one generation: chunk and article tables, FAISS and BM25, loaded in one
    short read transaction. No transaction stays open between questions (a long one would pin the WAL
    and keep a server from ever seeing other processes' commits), so what is read later (bodies,
    sentences, sentence vectors) is checked against this generation: an article is read by id and content
    hash, a chunk by its never-reused id; anything changed or removed since raises SnapshotExpired, and
    the caller takes a new snapshot. Nothing from another generation is ever returned."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest
        path = folder / db.DB_NAME
        self.conn = open_database(path)
        self._conn_lock = threading.Lock()
        try:
            self.conn.execute("BEGIN")  # one generation for everything loaded here
            try:
                self._load(folder, manifest)
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            self.conn.close()
            raise database_error(path, err, "reading the index") from None
        except BaseException:
            self.conn.close()
            raise
        self._body_cache: dict[int, str] = {}
        self._vector_cache: dict[int, np.ndarray] = {}
        self._duplicates: dict[str, str] | None = None
        self.closed = False

    def _load(self, folder: Path, manifest: Manifest) -> None:
        self.generation = db.get_generation(self.conn)
        rows = self.conn.execute(
            "SELECT c.id, c.article_rowid, c.position, c.start, c.end, c.first_sentence, c.last_sentence"
            " FROM chunks c ORDER BY c.id"
        ).fetchall()
        table = np.array(rows, dtype=np.int64).reshape(-1, 7)
        self.chunk_ids, self.chunk_article_keys = table[:, 0], table[:, 1]
        self.lead_chunks = table[:, 2] == 0
        self._chunk_table = table
        # Through the covering index articles_heads (not the table, whose rows carry the bodies); chunk
        # counts from the chunk table just read, not a subquery per article.
        rows = self.conn.execute(
            "SELECT a.rowid, a.id, a.title, a.source, a.published_at, a.url, a.authors, a.path, a.content_hash"
            " FROM articles a"
        ).fetchall()
        keys, counts = np.unique(self.chunk_article_keys, return_counts=True)
        n_chunks = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        self._articles = {r[0]: (*r[:8], n_chunks.get(r[0], 0)) for r in rows}
        self._content_hash = {r[0]: r[8] for r in rows}  # checked on every later read of the article
        self._rowid_by_id = {r[1]: rowid for rowid, r in self._articles.items()}
        self._info_cache: dict[str, ArticleInfo] = {}
        # Per-article arrays spread to positions by index (not a Python loop over a million chunks).
        rowids = np.fromiter(self._articles, dtype=np.int64, count=len(self._articles))
        order = np.argsort(rowids)
        where = order[np.searchsorted(rowids, self.chunk_article_keys, sorter=order)] if len(rowids) else rowids
        heads = list(self._articles.values())
        self.chunk_sources = np.array([r[3] for r in heads], dtype=object)[where]
        # A str array ("" = undated) for callers that read dates, and int32 day numbers (filters.UNDATED =
        # undated) that date windows compare vectorised.
        published = [r[4] or "" for r in heads]
        self.chunk_dates = np.array(published, dtype=str)[where] if heads else np.zeros(0, dtype=str)
        self.chunk_days = day_numbers(published)[where]
        self.newest_date = max((r[4] for r in self._articles.values() if r[4]), default="")
        self.vectors, self.keywords = load_or_build_artifacts(folder, self.conn, manifest, self.chunk_ids)
        self._article_lock = threading.Lock()
        self._articles_bm25: ArticleKeywords | None = None

    def current_generation(self) -> int:
        """The newest committed generation (not this snapshot's): an autocommit read of one meta row."""
        return self._read(lambda: db.get_generation(self.conn))

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    def search_dense(self, vector, k, mask=None, widen: bool = True):
        """FAISS holds chunk ids: a position mask becomes an id mask, found ids become positions. See
        VectorIndex.search for `widen`."""
        id_mask = None
        if mask is not None:
            id_mask = np.zeros(int(self.chunk_ids[-1]) + 1 if self.size else 0, dtype=bool)
            id_mask[self.chunk_ids[np.asarray(mask, dtype=bool)]] = True
        ids, scores = self.vectors.search(vector, k, id_mask, widen=widen)
        return np.searchsorted(self.chunk_ids, ids).astype(np.int64), scores

    def search_keyword(self, text, k, mask=None):
        return self.keywords.search(text, k, mask)

    def search_window(self, text: str, vector: np.ndarray | None, k: int, mask: Mask, date_from: str | None,
                      date_to: str | None) -> tuple[tuple, tuple, np.ndarray]:
        """(dense hits, keyword hits, inside) for a date window (undated chunks count as inside) within
        `mask`: each search once at depth k with the window as a filter inside it (a day-number range in
        tantivy; an id selector over the usual IVF cells in FAISS, not a wider probe), so a time-aware
        question costs about one more shallow search per side rather than deeper ones (issue 16). `inside`
        is the window and mask as booleans over positions; a None vector skips the dense side."""
        window = self.intersect(self.mask(Filters().within(date_from, date_to), keep_undated=True), mask)
        inside = self.allowed(window)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        dense = empty if vector is None else self.search_dense(vector, k, window, widen=False)
        keyword = self.keywords.search(text, k, mask, days=day_window(date_from, date_to)) if text else empty
        return dense, keyword, inside

    def search_articles(self, text: str, k: int, mask: Mask = None) -> tuple[np.ndarray, np.ndarray]:
        """(article keys, scores), best first: BM25 over whole articles, the title counted twice. Short
        news spreads a question's words over several chunks; the whole article still holds them all."""
        allowed = None if mask is None else np.unique(self.chunk_article_keys[mask])
        return self._article_index().search(text, k, allowed)

    def _article_index(self) -> ArticleKeywords:
        """Built on first use (a second or two per 3,000 articles) from this snapshot's articles as they
        still are: one changed or removed since is left out of this ranking signal rather than failing the
        question (its chunks are still searched)."""
        with self._article_lock:
            if self._articles_bm25 is None:
                rows = [r for r in self._read(lambda: self.conn.execute(
                    "SELECT rowid, title, body, content_hash FROM articles ORDER BY rowid").fetchall())
                    if self._content_hash.get(r[0]) == r[3]]
                self._articles_bm25 = ArticleKeywords.build([r[0] for r in rows], [r[1] for r in rows],
                                                            [r[2] for r in rows])
            return self._articles_bm25

    def _read(self, work, check_generation: bool = False):
        """work() in one short read transaction; SQLite errors as one line naming the database. Questions on
        several threads share the snapshot, hence its connection: one transaction on it at a time."""
        with self._conn_lock:
            return self._read_locked(work, check_generation)

    def _read_locked(self, work, check_generation: bool):
        try:
            self.conn.execute("BEGIN")
            try:
                if check_generation and db.get_generation(self.conn) != self.generation:
                    raise SnapshotExpired(f"the index moved past generation {self.generation}")
                return work()
            finally:
                self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            raise database_error(self.folder / db.DB_NAME, err, "reading the index") from None

    def _body(self, rowid: int) -> str:
        if rowid not in self._body_cache:
            if len(self._body_cache) > BODY_CACHE_ARTICLES:
                self._body_cache.clear()
            article_id = self._articles[rowid][1]
            row = self._read(lambda: self.conn.execute(
                "SELECT body FROM articles WHERE id = ? AND content_hash = ?",
                (article_id, self._content_hash[rowid])).fetchone())
            if row is None:
                raise SnapshotExpired(f"article '{article_id}' changed after generation {self.generation}")
            self._body_cache[rowid] = row[0]
        return self._body_cache[rowid]

    def chunk_texts(self, positions) -> ChunkTexts:
        """These positions' chunk ids, articles and spans now, their texts when first asked for (a ranking
        shows a few of its passages: reading all their bodies was ~7 ms an answer at 1M chunks)."""
        return ChunkTexts(self, positions)

    def chunk(self, position: int) -> StoredChunk:
        cid, rowid, idx, start, end, first, last = self._chunk_table[position].tolist()
        text = self._body(rowid)[start:end]
        return StoredChunk(cid, int(position), self._articles[rowid][1], idx, start, end, first, last, text)

    def prefetch_bodies(self, positions) -> None:
        """Bodies of these positions' articles not yet cached, in one read: a ranking of 200 passages over
        an archive larger than the cache otherwise reads them one row (and one transaction) at a time."""
        wanted = list({int(self.chunk_article_keys[p]) for p in positions} - self._body_cache.keys())
        if not wanted:
            return
        if len(self._body_cache) + len(wanted) > BODY_CACHE_ARTICLES:
            self._body_cache.clear()
        marks = ",".join("?" * len(wanted))
        rows = self._read(lambda: self.conn.execute(
            f"SELECT rowid, body, content_hash FROM articles WHERE rowid IN ({marks})", wanted).fetchall())
        for rowid, body, content_hash in rows:
            if self._content_hash.get(rowid) == content_hash:  # else _body() reports the change on use
                self._body_cache[rowid] = body

    def prefetch(self, positions) -> None:
        """Bodies and sentence vectors an answer reads (these positions and their neighbours), each kind in
        one read instead of one per passage; the engine calls this where a snapshot has it."""
        keys = self.chunk_article_keys  # neighbours in the same article (evidence._neighbours reads no others)
        near = {q for p in positions for q in (int(p) - 1, int(p), int(p) + 1)
                if 0 <= q < self.size and keys[q] == keys[int(p)]}
        self.prefetch_bodies(sorted(near))
        missing = sorted(q for q in near if q not in self._vector_cache)
        if not missing:
            return
        if len(self._vector_cache) + len(missing) > 1024:
            self._vector_cache.clear()
        by_id = {int(self.chunk_ids[q]): q for q in missing}
        marks = ",".join("?" * len(by_id))
        rows = self._read(lambda: self.conn.execute(
            "SELECT c.id, v.sentence_vectors FROM chunks c JOIN vectors v ON v.hash = c.vector_hash"
            f" WHERE c.id IN ({marks})", list(by_id)).fetchall())
        for chunk_id, blob in rows:  # a chunk removed since is left for sentence_vectors() to report
            self._vector_cache[by_id[chunk_id]] = np.frombuffer(blob, dtype=np.float16).reshape(
                -1, self.manifest.dim).astype(np.float32)

    def sentence_vectors(self, position: int) -> np.ndarray:
        """Pooled vectors of the chunk's sentences, first_sentence..last_sentence, unit length.
        Cached: answering reads them once to score sentences and again to remove redundancy."""
        if position not in self._vector_cache:
            if len(self._vector_cache) > 1024:
                self._vector_cache.clear()
            chunk_id = int(self.chunk_ids[position])
            row = self._read(lambda: self.conn.execute(
                "SELECT v.sentence_vectors FROM chunks c JOIN vectors v ON v.hash = c.vector_hash WHERE c.id = ?",
                (chunk_id,)).fetchone())
            if row is None:  # chunk ids are never reused: a missing one was removed by a later commit
                raise SnapshotExpired(f"chunk {chunk_id} was removed after generation {self.generation}")
            self._vector_cache[position] = np.frombuffer(row[0], dtype=np.float16).reshape(
                -1, self.manifest.dim).astype(np.float32)
        return self._vector_cache[position]

    def near_duplicates(self) -> dict[str, str]:
        """article id -> its group's representative (the oldest), for articles with near-duplicates."""
        if self._duplicates is None:
            from index.near_duplicates import NearDuplicateIndex, from_bytes

            rows = self._read(lambda: self.conn.execute(
                "SELECT a.id, s.minhash, a.rowid, a.content_hash FROM signatures s"
                " JOIN articles a ON a.rowid = s.article_rowid"
                " ORDER BY COALESCE(a.published_at, '9999'), a.rowid").fetchall())
            index = NearDuplicateIndex()
            for article_id, blob, rowid, content_hash in rows:
                if self._content_hash.get(rowid) == content_hash:  # still this snapshot's article
                    index.add_signature(article_id, from_bytes(blob))
            self._duplicates = {m: g[0] for g in index.groups() for m in g}
        return self._duplicates

    def sentence_spread(self, texts: Sequence[str]) -> list[int]:
        """How many articles hold each of these sentences (normalised), read now: a commit since this
        snapshot may show in the counts, which only rank boilerplate (an index not yet filled: zeros)."""
        from index.sentence_spread import sentence_key

        keys = [sentence_key(t) for t in texts]
        found = self._read(lambda: db.sentence_spread(self.conn, keys))
        return [found.get(k, 0) for k in keys]

    def article_rowid(self, article_id: str) -> int:
        if article_id not in self._rowid_by_id:
            raise KeyError(f"no article '{article_id}' in the index")
        return self._rowid_by_id[article_id]

    def article(self, article_id: str) -> Article:
        """The article as this generation holds it (metadata from the snapshot, body checked by hash)."""
        import json

        rowid = self.article_rowid(article_id)
        _, aid, title, source, published_at, url, authors, path, _ = self._articles[rowid]
        return Article(aid, title, self._body(rowid), source, tuple(json.loads(authors)), published_at, url, path)

    def sentences(self, article_id: str) -> list[Sentence]:
        rowid = self.article_rowid(article_id)
        body = self._body(rowid)

        def read():
            current = self.conn.execute("SELECT rowid FROM articles WHERE id = ? AND content_hash = ?",
                                        (article_id, self._content_hash[rowid])).fetchone()
            return None if current is None else self.conn.execute(
                "SELECT start, end FROM sentences WHERE article_rowid = ? ORDER BY idx", (current[0],)).fetchall()

        rows = self._read(read)
        if rows is None:
            raise SnapshotExpired(f"article '{article_id}' changed after generation {self.generation}")
        return [Sentence(s, e, body[s:e]) for s, e in rows]

    def info(self, article_id: str) -> ArticleInfo:
        """Memoised: every passage of a ranking asks for its article's (immutable) metadata."""
        found = self._info_cache.get(article_id)
        if found is None:
            found = self._info_cache[article_id] = _info(self._articles[self.article_rowid(article_id)])
        return found

    def articles(self) -> list[ArticleInfo]:
        return sorted((_info(r) for r in self._articles.values()),
                      key=lambda a: (a.published_at or "", a.title), reverse=True)

    def positions_of_articles(self, article_ids: set[str]) -> np.ndarray:
        rowids = [self._rowid_by_id[a] for a in article_ids if a in self._rowid_by_id]
        return np.isin(self.chunk_article_keys, rowids)

    def mask(self, filters: Filters | None, keep_undated: bool = False) -> np.ndarray | None:
        return compile_mask(filters, sources=self.chunk_sources, dates=self.chunk_days,
                            article_positions=self.positions_of_articles, keep_undated=keep_undated)

    def intersect(self, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return b if a is None else a if b is None else a & b

    def allowed(self, mask: np.ndarray | None) -> np.ndarray:
        return np.ones(self.size, dtype=bool) if mask is None else mask

    def close(self) -> None:
        self.closed = True
        self.conn.close()


class ChunkTexts:
    """The texts of some chunks of one snapshot (article.body[start:end] of its generation), read when
    first asked for; assistant.results.Passage takes one as its text. While the snapshot is open a text
    comes from its body cache, and a body not cached is read together with those of the other chunks not
    read yet (someone reading one ranked passage's text outside the answer usually reads them all). Once
    the snapshot is closed (a reload swapped it out) or gone, from a connection of their own. Either way
    an article is read by id and content hash: one changed or removed since is a SnapshotExpired, never
    another generation's text. Holds the snapshot only weakly: an answer kept for long must not keep its
    snapshot's indexes in memory."""

    def __init__(self, snapshot: EmbeddedSnapshot, positions):
        positions = sorted({int(p) for p in positions})
        rows = snapshot._chunk_table[positions].tolist() if positions else []
        # position -> (chunk id, article id, start, end), known without reading anything
        self.spans = {p: (r[0], snapshot._articles[r[1]][1], r[3], r[4]) for p, r in zip(positions, rows, strict=True)}
        self._rowid = {p: r[1] for p, r in zip(positions, rows, strict=True)}
        self._hash = {r[1]: snapshot._content_hash[r[1]] for r in rows}
        self._snapshot = weakref.ref(snapshot)
        self._path, self._generation = snapshot.folder / db.DB_NAME, snapshot.generation
        self._texts: dict[int, str] = {}
        self._lock = threading.Lock()

    def text(self, position: int) -> str:
        with self._lock:
            if position not in self._texts:
                self._read(position)
            return self._texts[position]

    def _read(self, position: int) -> None:
        rowid = self._rowid[position]
        snapshot = self._snapshot()
        if snapshot is not None and not snapshot.closed:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile: read afresh below
                if rowid not in snapshot._body_cache:
                    snapshot.prefetch_bodies([p for p in self._rowid if p not in self._texts])
                    self._keep({r: snapshot._body_cache.get(r) for r in set(self._rowid.values())})
                self._keep({rowid: snapshot._body(rowid)}, position)  # a SnapshotExpired if it changed
                return
        self._keep(self._bodies_read_afresh({self._rowid[p] for p in self._rowid if p not in self._texts}))
        if position not in self._texts:
            article_id = self.spans[position][1]
            raise SnapshotExpired(f"article '{article_id}' changed after generation {self._generation}")

    def _keep(self, bodies: dict[int, str | None], only: int | None = None) -> None:
        for p in [only] if only is not None else [p for p in self._rowid if p not in self._texts]:
            body = bodies.get(self._rowid[p])
            if body is not None:
                _, _, start, end = self.spans[p]
                self._texts[p] = body[start:end]

    def _bodies_read_afresh(self, rowids: set[int]) -> dict[int, str]:
        wanted = sorted(rowids)
        try:
            conn = db.connect(self._path, readonly=True)
            try:
                rows = conn.execute(f"SELECT rowid, body, content_hash FROM articles WHERE rowid IN"
                                    f" ({','.join('?' * len(wanted))})", wanted).fetchall()
            finally:
                conn.close()
        except sqlite3.DatabaseError as err:
            raise database_error(self._path, err, "reading passage texts") from None
        return {r: body for r, body, content_hash in rows if self._hash.get(r) == content_hash}


def _one_line(err: BaseException) -> str:
    """An OS, faiss or SQLite error as a short reason naming the file where it has one."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    text = " ".join(str(err).split())
    if "No space left on device" in text:  # faiss: "... write error in PATH: 4051 != 32000 (No space left ...)"
        where = re.search(r"(?:write error in|for writing:?) (\S+?):? ", text)
        return f"{where.group(1)}: No space left on device" if where else "No space left on device"
    return text[:200] or type(err).__name__


def _info(row) -> ArticleInfo:
    import json

    _, aid, title, source, published_at, url, authors, path, n_chunks = row
    return ArticleInfo(aid, title, source, published_at, url, tuple(json.loads(authors)), path, n_chunks)


DENSE_NAME, KEYWORD_NAME = "dense.faiss", "keyword"
# Bodies a snapshot keeps in memory (a few KB each for news): enough that a ranking of a mid-size archive
# does not empty the cache every few questions (2,048 did, on the 2,127-article BBC corpus).
BODY_CACHE_ARTICLES = 8192
DENSE_META, KEYWORD_META = "dense.json", "keyword.json"
# The dense base file is rewritten once this many chunk changes have piled up since it was written (at
# least COMPACT_MIN, else COMPACT_FRACTION of the index); until then each snapshot replays them from the log.
COMPACT_MIN = 5_000
COMPACT_FRACTION = 0.02


def artifact_paths(folder: Path, generation: int | None = None) -> tuple[Path, Path]:
    """The derived files: the dense base file and the keyword index folder, one of each whatever the
    generation; each has a JSON beside it (dense.json, keyword.json) with the change number it reflects and
    its checksums."""
    return folder / DENSE_NAME, folder / KEYWORD_NAME


def notice(message: str) -> None:
    print(f"notice: {message}", file=sys.stderr)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) and isinstance(data.get("seq"), int) else None
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())


def load_or_build_artifacts(folder: Path, conn, manifest: Manifest, chunk_ids: np.ndarray):
    """The derived indexes for the database state `conn` reads: from their files when those check out
    (checksums, size), with the changes logged since they were written replayed; else rebuilt from the
    database, with a one-line notice when a file was damaged. Snapshots are made under the write lock, so
    leftovers of a killed commit can go."""
    with contextlib.suppress(OSError):
        remove_stale_artifacts(folder)
    return _load_dense(folder, conn, manifest, chunk_ids), _load_keywords(folder, conn, chunk_ids)


def _changed_since(conn, seq: int) -> np.ndarray:
    rows = conn.execute("SELECT DISTINCT chunk_id FROM changes WHERE seq > ?", (seq,)).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def _replayable(conn, seq: int) -> bool:
    return db.pruned_to(conn) <= seq <= db.last_change(conn)


def _vectors_of(conn, chunk_ids: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of those of these chunks that exist, in id order."""
    ids, blobs = [], []
    for i in range(0, len(chunk_ids), 500):
        batch = [int(c) for c in chunk_ids[i:i + 500]]
        marks = ",".join("?" * len(batch))
        for cid, blob in conn.execute("SELECT c.id, v.vector FROM chunks c JOIN vectors v ON v.hash = c.vector_hash"
                                      f" WHERE c.id IN ({marks}) ORDER BY c.id", batch):
            ids.append(cid)
            blobs.append(blob)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dim)
    return np.array(ids, dtype=np.int64), matrix


def _texts_of(conn, chunk_ids) -> list[tuple[int, str, int]]:
    """(chunk id, "title\\nchunk text", its article's day number) of those of these chunks that exist."""
    out: list[tuple[int, str, int]] = []
    chunk_ids = [int(c) for c in chunk_ids]
    for i in range(0, len(chunk_ids), 500):
        batch = chunk_ids[i:i + 500]
        marks = ",".join("?" * len(batch))
        out += [(cid, text, day_number(published)) for cid, text, published in conn.execute(
            "SELECT c.id, a.title || char(10) || substr(a.body, c.start + 1, c.end - c.start), a.published_at"
            f" FROM chunks c JOIN articles a ON a.rowid = c.article_rowid WHERE c.id IN ({marks}) ORDER BY c.id",
            batch)]
    return out


def _load_dense(folder: Path, conn, manifest: Manifest, chunk_ids: np.ndarray) -> VectorIndex:
    path, meta = folder / DENSE_NAME, _read_json(folder / DENSE_META)
    if path.exists() and meta is not None:
        problem = None
        try:
            if path.stat().st_size != meta.get("bytes") or _file_digest(path) != meta.get("sha256"):
                problem = "checksum mismatch"
            elif _replayable(conn, meta["seq"]):
                vectors = VectorIndex.load(path, manifest.dim)
                changed = _changed_since(conn, meta["seq"])
                vectors.remove(changed)
                vectors.add(*_vectors_of(conn, changed, manifest.dim))
                if vectors.size == len(chunk_ids):
                    return vectors
                problem = f"holds {vectors.size} vectors for {len(chunk_ids)} chunks"
        except Exception as err:  # noqa: BLE001 - a damaged derived file is rebuilt from the database
            problem = f"unreadable ({type(err).__name__})"
        if problem:
            notice(f"{path}: {problem}; rebuilding the vector index from the database")
    vectors = build_dense(conn, manifest)
    # read-only folder or a full disk (faiss says RuntimeError): the in-memory copy serves this process
    with contextlib.suppress(OSError, RuntimeError):
        save_dense(folder, vectors, db.last_change(conn), vectors.size)
    return vectors


def build_dense(conn, manifest: Manifest) -> VectorIndex:
    rows = conn.execute("SELECT c.id, v.vector FROM chunks c JOIN vectors v ON v.hash = c.vector_hash ORDER BY c.id"
                        ).fetchall()
    n_chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if len(rows) != n_chunks:
        raise RuntimeError("index database is missing vectors for some chunks; rebuild the index")
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, manifest.dim)
    return VectorIndex.build(matrix, manifest.dim, ids=np.array([r[0] for r in rows], dtype=np.int64))


def save_dense(folder: Path, vectors: VectorIndex, seq: int, trained_size: int) -> None:
    """Write the base file beside the old one and swap it in, then its JSON (change number, size, checksum):
    a file whose JSON does not match it is not trusted, so a kill between the two costs a rebuild, never a
    wrong answer."""
    path = folder / DENSE_NAME
    tmp = path.with_name(path.name + ".tmp")
    vectors.save(tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    meta = {"seq": seq, "bytes": tmp.stat().st_size, "sha256": _file_digest(tmp), "kind": vectors.kind,
            "size": vectors.size, "trained_size": trained_size}
    tmp.replace(path)
    fsync_dir(folder)
    _write_json(folder / DENSE_META, meta)


def _keyword_files(folder: Path, previous: dict | None = None) -> dict[str, list]:
    """Files of the keyword index's current commit (meta.json and its segments' files): size and checksum.
    Segment files never change once written, so a name and size already checksummed keep their digest."""
    known = (previous or {}).get("files", {})
    meta = json.loads((folder / "meta.json").read_text())
    segments = {s["segment_id"].replace("-", ""): s.get("deletes") for s in meta.get("segments", [])}
    names = ["meta.json"]
    for path in folder.iterdir():
        prefix, _, rest = path.name.partition(".")
        if prefix in segments:
            deletes = segments[prefix]
            if rest.endswith("del") and (not deletes or rest != f"{deletes['opstamp']}.del"):
                continue  # an older commit's deletions
            names.append(path.name)
    out = {}
    for name in sorted(names):
        size = (folder / name).stat().st_size
        same = name != "meta.json" and name in known and known[name][0] == size
        out[name] = known[name] if same else [size, _file_digest(folder / name)]
    return out


def _keyword_damage(folder: Path, meta: dict, full: bool = True) -> str | None:
    """What is wrong with the keyword files against their checksums (None: nothing); without `full`, sizes only."""
    for name, (size, digest) in meta.get("files", {}).items():
        path = folder / name
        if not path.exists():
            return f"{name} is missing"
        if path.stat().st_size != size or (full and _file_digest(path) != digest):
            return f"checksum mismatch in {name}"
    return None if meta.get("files") else "no checksums"


def _load_keywords(folder: Path, conn, chunk_ids: np.ndarray) -> KeywordView:
    path, meta = folder / KEYWORD_NAME, _read_json(folder / KEYWORD_META)
    if (path / "meta.json").exists() and meta is not None:
        problem = _keyword_damage(path, meta) or _keyword_format_problem(meta)
        if problem is None and _replayable(conn, meta["seq"]):
            try:
                keywords = KeywordIndex.open(path)
                if meta["seq"] != db.last_change(conn):  # a commit was cut short before the keyword update
                    catch_up_keywords(folder, keywords, conn, meta["seq"])
                view = keywords.view(chunk_ids)
                if view.size == len(chunk_ids):
                    return view
                problem = f"holds {view.size} chunks for {len(chunk_ids)}"
            except Exception as err:  # noqa: BLE001 - a damaged derived index is rebuilt from the database
                problem = f"unreadable ({type(err).__name__})"
        if problem:
            notice(f"{path}: {problem}; rebuilding the keyword index from the database")
    return build_keywords(folder, conn).view(chunk_ids)


def _keyword_format_problem(meta: dict) -> str | None:
    """Why an index written in another document layout (keywords.FORMAT) cannot be used, or None."""
    found = meta.get("format", 1)
    if found == KEYWORD_FORMAT:
        return None
    return f"written in keyword format {found}, this version reads {KEYWORD_FORMAT} (it adds the day field)"


def catch_up_keywords(folder: Path, keywords: KeywordIndex, conn, seq: int) -> None:
    """Apply the chunks changed since change `seq`, then record the new checksums and change number."""
    last = db.last_change(conn)
    previous = _read_json(folder / KEYWORD_META)
    changed = _changed_since(conn, seq)
    keywords.apply(_texts_of(conn, changed), [int(c) for c in changed])
    _write_json(folder / KEYWORD_META, {"seq": last, "format": KEYWORD_FORMAT,
                                        "files": _keyword_files(folder / KEYWORD_NAME, previous)})


def build_keywords(folder: Path, conn) -> KeywordIndex:
    """The keyword index rebuilt from the database (in memory when the folder cannot be written)."""
    path = folder / KEYWORD_NAME
    last = db.last_change(conn)
    ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
    def fill(keywords: KeywordIndex) -> KeywordIndex:
        for i in range(0, len(ids), 50_000):
            keywords.apply(_texts_of(conn, ids[i:i + 50_000]), [])
        return keywords

    try:
        (folder / KEYWORD_META).unlink(missing_ok=True)
        if path.exists():
            shutil.rmtree(path)
        keywords = fill(KeywordIndex.open(path, create=True))
        _write_json(folder / KEYWORD_META, {"seq": last, "format": KEYWORD_FORMAT, "files": _keyword_files(path)})
        return keywords
    except (OSError, ValueError, RuntimeError):  # read-only folder or a full disk: this process searches from memory
        return fill(KeywordIndex.open(None))


def remove_stale_artifacts(folder: Path) -> None:
    """Files of the earlier layout (dense-N.faiss, keyword-N/) and a half-written base file."""
    for path in folder.iterdir():
        if path.name.startswith(("dense-", "keyword-")) or path.name == DENSE_NAME + ".tmp":
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def update_derived(folder: Path, conn, manifest: Manifest) -> None:
    """After a commit, under the write lock: the keyword index takes the changed chunks, the dense base
    file is rewritten when enough changes have piled up, and the log is pruned to what both reflect. What a
    kill interrupts here is caught up (or, for a file half-written, rebuilt) on the next open."""
    last = db.last_change(conn)
    keyword_meta = _read_json(folder / KEYWORD_META)
    usable = (keyword_meta is not None and (folder / KEYWORD_NAME / "meta.json").exists()
              and _replayable(conn, keyword_meta["seq"])
              and _keyword_damage(folder / KEYWORD_NAME, keyword_meta, full=False) is None)
    if usable and _keyword_format_problem(keyword_meta):
        notice(f"{folder / KEYWORD_NAME}: {_keyword_format_problem(keyword_meta)}; rebuilding the keyword index"
               " from the database")
        usable = False
    if not usable:
        build_keywords(folder, conn)
    elif keyword_meta["seq"] != last:
        catch_up_keywords(folder, KeywordIndex.open(folder / KEYWORD_NAME), conn, keyword_meta["seq"])
    dense_meta = _read_json(folder / DENSE_META)
    n = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if dense_meta is None or not (folder / DENSE_NAME).exists() or not _replayable(conn, dense_meta["seq"]):
        save_dense(folder, build_dense(conn, manifest), last, n)
    else:
        pending = conn.execute("SELECT COUNT(*) FROM changes WHERE seq > ?", (dense_meta["seq"],)).fetchone()[0]
        if pending > max(COMPACT_MIN, COMPACT_FRACTION * n):
            compact_dense(folder, conn, manifest, dense_meta, n)
    remove_stale_artifacts(folder)
    seqs = [(_read_json(folder / name) or {"seq": 0})["seq"] for name in (KEYWORD_META, DENSE_META)]
    db.prune_changes(conn, min(seqs))


def compact_dense(folder: Path, conn, manifest: Manifest, meta: dict, n: int) -> None:
    """Rewrite the dense base file with the changes since it was written; retrain (rebuild from the
    database) when the IVF cells were trained on a size that has since doubled or halved, or when the kind
    EXACT_MAX picks has changed."""
    trained = int(meta.get("trained_size") or meta.get("size") or n)
    try:
        if _file_digest(folder / DENSE_NAME) != meta.get("sha256"):
            raise ValueError("checksum mismatch")
        vectors = VectorIndex.load(folder / DENSE_NAME, manifest.dim)
    except Exception as err:  # noqa: BLE001 - damaged: rebuilt from the database below
        notice(f"{folder / DENSE_NAME}: {err}; rebuilding the vector index from the database")
        vectors = None
    if vectors is None or vectors.needs_retraining(n, trained):
        save_dense(folder, build_dense(conn, manifest), db.last_change(conn), n)
        return
    changed = _changed_since(conn, meta["seq"])
    vectors.remove(changed)
    vectors.add(*_vectors_of(conn, changed, manifest.dim))
    save_dense(folder, vectors, db.last_change(conn), trained)


class EmbeddedStore:
    """FAISS + BM25 + SQLite in one folder. One writer at a time across processes (`writer()`, held for a
    whole ingest or removal) and a short lock for each commit and each new snapshot."""

    def __init__(self, folder: Path, manifest: Manifest, create: bool = False):
        self.folder = folder
        self.manifest = manifest
        self.conn = open_database(folder / db.DB_NAME, create=create)
        self._writer_owner: int | None = None  # thread holding `writer()` through this store
        self._writer_depth = 0

    @classmethod
    def open(cls, folder: Path | str, expected: Manifest | None = None, create: bool = False) -> EmbeddedStore:
        """Open an index folder; with `create`, make it if missing. Refuses a differently built index, and a
        folder whose database is missing or damaged (an IndexDamaged: nothing there is deleted)."""
        folder = Path(folder)
        stored = read_manifest(folder) if folder.exists() else None
        if stored is None:
            if not create or expected is None:
                raise IndexNotFound(f"{folder}: no index here (run 'assistant ingest --index {folder} FILES')")
            folder.mkdir(parents=True, exist_ok=True)
            store = cls(folder, expected, create=True)  # the database first: a manifest always has one
            store._fill_sentence_keys()  # nothing to fill in a new index: marks its keys complete
            write_manifest(folder, expected)
            return store
        check_database_file(folder / db.DB_NAME)
        if expected is not None:
            stored.check_compatible(expected, folder)
        elif stored.format_version != FORMAT_VERSION:  # reading (articles, info, remove): the format must match
            stored.check_compatible(Manifest(stored.model, stored.dim, stored.chunking), folder)
        store = cls(folder, stored)
        try:
            store.check_vector_size()
        except BaseException:
            store.close()
            raise
        return store

    def check_vector_size(self) -> None:
        """The manifest's dimension is the stored vectors' (an edited or foreign manifest would otherwise
        end in a reshape error, or in searches with the wrong model)."""
        row = self.conn.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
        if row and row[0] != 4 * self.manifest.dim:
            raise IndexMismatch(
                f"{self.folder / MANIFEST_NAME}: says {self.manifest.dim}-d vectors, but the database holds "
                f"{row[0] // 4}-d ones; the manifest was edited or belongs to another index")

    def generation(self) -> int:
        """The newest committed generation (one indexed read; cheap enough to ask before every question)."""
        try:
            return db.get_generation(self.conn)
        except sqlite3.DatabaseError as err:
            raise database_error(self.folder / db.DB_NAME, err, "reading the index") from None

    def snapshot(self) -> EmbeddedSnapshot:
        with self.write_lock():
            with contextlib.suppress(sqlite3.OperationalError):  # a full disk: serve without new signatures
                try:
                    db.fill_missing_signatures(self.conn)
                finally:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
            self._fill_sentence_keys()
            return EmbeddedSnapshot(self.folder, self.manifest)

    def _fill_sentence_keys(self) -> None:
        """An index made before sentence keys gets them here, once. A full disk or a damaged page leaves
        them for a later open (every sentence counts as unique until then): this snapshot's own reads
        report a damaged file where they meet it."""
        try:
            db.fill_missing_sentence_keys(self.conn)
        except sqlite3.DatabaseError:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """The short lock: one commit at a time, and no snapshot taken halfway through a commit's file swap."""
        with open(self.folder / COMMIT_LOCK, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def writer(self, wait: bool = True, on_wait=None) -> Iterator[None]:
        """Held for a whole ingest or removal, so what it read (stored hashes, the duplicate check) is still
        true when it commits. Another process holding it: wait, after one line (`on_wait(message)`, default
        stderr), or with wait=False raise IndexBusy. Re-entrant within one thread."""
        me = threading.get_ident()
        if self._writer_owner == me:
            self._writer_depth += 1
            try:
                yield
            finally:
                self._writer_depth -= 1
            return
        with open(self.folder / WRITER_LOCK, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    raise IndexBusy(f"{self.folder}: another ingest or removal is running on this index; "
                                    "try again when it has finished (or without --no-wait to wait for it)") from None
                message = f"waiting for another ingest into {self.folder} to finish"
                (on_wait or (lambda m: print(m, file=sys.stderr, flush=True)))(message)
                fcntl.flock(handle, fcntl.LOCK_EX)
            self._writer_owner, self._writer_depth = me, 1
            try:
                yield
            finally:
                self._writer_owner, self._writer_depth = None, 0
                fcntl.flock(handle, fcntl.LOCK_UN)

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        try:
            return db.cached_vectors(self.conn, hashes, self.manifest.dim)
        except sqlite3.DatabaseError as err:
            raise database_error(self.folder / db.DB_NAME, err, "reading the embedding cache") from None

    def cache_vectors(self, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """The cache is not index state: it is committed on its own, so a killed ingest keeps it."""
        self._transaction(lambda: db.store_vectors(self.conn, items), "caching embeddings")

    def _transaction(self, work, doing: str):
        """work() inside BEGIN IMMEDIATE .. COMMIT. On failure the rollback never masks the real error
        (SQLite has already rolled back after a full disk), and an SQLite error becomes one line."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            result = work()
            self.conn.execute("COMMIT")
            return result
        except BaseException as err:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise database_error(self.folder / db.DB_NAME, err, doing) from err
            raise

    def stored_hashes(self) -> dict[str, tuple[str, str]]:
        """article id -> (record hash, content hash) of what is stored now."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute("SELECT id, record_hash, content_hash FROM articles")}

    def hashes_for(self, ids: list[str], content_hashes: list[str]
                   ) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
        """What stored_hashes tells about just these articles: (id -> (record hash, content hash) of the
        stored ones among `ids`, content hash -> id of a stored article with that text), through the id
        and content-hash indexes, so an ingest's checks cost what it brings, not what the archive holds
        (issue 16: reading every article's hashes took 0.15-0.2 s at 100k articles)."""
        stored: dict[str, tuple[str, str]] = {}
        owners: dict[str, str] = {}
        for i in range(0, max(len(ids), len(content_hashes)), 500):
            batch = ids[i:i + 500]
            if batch:
                stored.update((r[0], (r[1], r[2])) for r in self.conn.execute(
                    f"SELECT id, record_hash, content_hash FROM articles WHERE id IN ({','.join('?' * len(batch))})",
                    batch))
            batch = content_hashes[i:i + 500]
            if batch:
                owners.update((r[1], r[0]) for r in self.conn.execute(
                    f"SELECT id, content_hash FROM articles WHERE content_hash IN ({','.join('?' * len(batch))})"
                    " ORDER BY rowid", batch))
        return stored, owners

    def commit(self, additions: list[PreparedArticle], removals: list[str]) -> int:
        """Apply all changes in one transaction (the commit point; triggers log each chunk added or removed),
        then bring the derived indexes up to it, touching only the changed chunks (update_derived). Failing
        to write those (a full disk) loses nothing: DerivedFilesNotWritten says the change is stored, and
        the files are rebuilt from the database when the index is next opened."""
        with self.write_lock():
            def apply() -> int:
                for article_id in removals:
                    self.conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                for item in additions:
                    db.insert_article(self.conn, item.article, item.sentences, item.chunks, item.vector_hashes)
                generation = db.get_generation(self.conn) + 1
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
                return generation

            generation = self._transaction(apply, "committing")
            try:
                update_derived(self.folder, self.conn, self.manifest)
            except (OSError, RuntimeError, ValueError, sqlite3.Error) as err:
                raise DerivedFilesNotWritten(
                    f"{self.folder}: the change is stored (generation {generation}), but the search files could "
                    f"not be written ({_one_line(err)}); they are rebuilt from the database when the index is "
                    "next opened", generation) from err
            return generation

    def describe(self) -> str:
        return "embedded (FAISS inner product + tantivy BM25 + SQLite)"

    def stats(self) -> StoreStats:
        count = lambda table: self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return StoreStats(count("articles"), count("chunks"), count("sentences"), db.get_generation(self.conn), size)

    def close(self) -> None:
        self.conn.close()
