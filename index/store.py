"""The store behind one small interface: a writer that applies changes atomically, and
read-only snapshots that searches run against.

`EmbeddedStore` (FAISS + BM25 + SQLite in one folder) is the default; the Milvus backend
(index/milvus.py) implements the same `Store` and `Snapshot` protocols.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index import database as db
from index.articles import Article, Chunk, Sentence
from index.filters import Filters, compile_mask
from index.keywords import ArticleKeywords, KeywordIndex
from index.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    IndexMismatch,
    Manifest,
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
    chunks of one article and nothing more (not database row ids)."""

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
        rows = self.conn.execute(
            "SELECT a.rowid, a.id, a.title, a.source, a.published_at, a.url, a.authors, a.path,"
            " (SELECT COUNT(*) FROM chunks c WHERE c.article_rowid = a.rowid), a.content_hash FROM articles a"
        ).fetchall()
        self._articles = {r[0]: r[:9] for r in rows}
        self._content_hash = {r[0]: r[9] for r in rows}  # checked on every later read of the article
        self._rowid_by_id = {r[1]: rowid for rowid, r in self._articles.items()}
        per_article = [self._articles[int(r)] for r in self.chunk_article_keys]
        self.chunk_sources = np.array([r[3] for r in per_article], dtype=object)
        # A str array, so date windows compare vectorised; "" = undated.
        self.chunk_dates = np.array([r[4] or "" for r in per_article], dtype=str)
        self.newest_date = max((r[4] for r in self._articles.values() if r[4]), default="")
        self.vectors, self.keywords = load_or_build_artifacts(folder, self.conn, manifest, self.generation)
        self._article_lock = threading.Lock()
        self._articles_bm25: ArticleKeywords | None = None

    def current_generation(self) -> int:
        """The newest committed generation (not this snapshot's): an autocommit read of one meta row."""
        return self._read(lambda: db.get_generation(self.conn))

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    def search_dense(self, vector, k, mask=None):
        return self.vectors.search(vector, k, mask)

    def search_keyword(self, text, k, mask=None):
        return self.keywords.search(text, k, mask)

    def search_articles(self, text: str, k: int, mask: Mask = None) -> tuple[np.ndarray, np.ndarray]:
        """(article keys, scores), best first: BM25 over whole articles, the title counted twice. Short
        news spreads a question's words over several chunks; the whole article still holds them all."""
        allowed = None if mask is None else np.unique(self.chunk_article_keys[mask])
        return self._article_index().search(text, k, allowed)

    def _article_index(self) -> ArticleKeywords:
        """Built on first use, from the database this snapshot reads (a second or two per 3,000 articles)."""
        with self._article_lock:
            if self._articles_bm25 is None:
                rows = self.conn.execute("SELECT rowid, title, body FROM articles ORDER BY rowid").fetchall()
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
            if len(self._body_cache) > 2048:
                self._body_cache.clear()
            article_id = self._articles[rowid][1]
            row = self._read(lambda: self.conn.execute(
                "SELECT body FROM articles WHERE id = ? AND content_hash = ?",
                (article_id, self._content_hash[rowid])).fetchone())
            if row is None:
                raise SnapshotExpired(f"article '{article_id}' changed after generation {self.generation}")
            self._body_cache[rowid] = row[0]
        return self._body_cache[rowid]

    def chunk(self, position: int) -> StoredChunk:
        cid, rowid, idx, start, end, first, last = (int(v) for v in self._chunk_table[position])
        text = self._body(rowid)[start:end]
        return StoredChunk(cid, int(position), self._articles[rowid][1], idx, start, end, first, last, text)

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
                "SELECT a.id, s.minhash FROM signatures s JOIN articles a ON a.rowid = s.article_rowid"
                " ORDER BY COALESCE(a.published_at, '9999'), a.rowid").fetchall(), check_generation=True)
            index = NearDuplicateIndex()
            for article_id, blob in rows:
                index.add_signature(article_id, from_bytes(blob))
            self._duplicates = {m: g[0] for g in index.groups() for m in g}
        return self._duplicates

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
        return _info(self._articles[self.article_rowid(article_id)])

    def articles(self) -> list[ArticleInfo]:
        return sorted((_info(r) for r in self._articles.values()),
                      key=lambda a: (a.published_at or "", a.title), reverse=True)

    def positions_of_articles(self, article_ids: set[str]) -> np.ndarray:
        rowids = [self._rowid_by_id[a] for a in article_ids if a in self._rowid_by_id]
        return np.isin(self.chunk_article_keys, rowids)

    def mask(self, filters: Filters | None, keep_undated: bool = False) -> np.ndarray | None:
        return compile_mask(filters, sources=self.chunk_sources, dates=self.chunk_dates,
                            article_positions=self.positions_of_articles, keep_undated=keep_undated)

    def intersect(self, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return b if a is None else a if b is None else a & b

    def allowed(self, mask: np.ndarray | None) -> np.ndarray:
        return np.ones(self.size, dtype=bool) if mask is None else mask

    def close(self) -> None:
        self.conn.close()


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


def artifact_paths(folder: Path, generation: int) -> tuple[Path, Path]:
    return folder / f"dense-{generation}.faiss", folder / f"keyword-{generation}"


def load_or_build_artifacts(folder: Path, conn, manifest: Manifest, generation: int):
    dense_path, keyword_path = artifact_paths(folder, generation)
    if dense_path.exists() and (keyword_path / "size.txt").exists():
        try:
            vectors = VectorIndex.load(dense_path, manifest.dim)
            keywords = KeywordIndex.load(keyword_path)
            n = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            if vectors.size == n and keywords.size == n:
                return vectors, keywords
        except Exception:  # noqa: BLE001 - a damaged derived file is rebuilt from the database
            pass
    vectors, keywords = build_artifacts(conn, manifest)
    # read-only folder or a full disk (faiss says RuntimeError): the in-memory copy serves this process
    with contextlib.suppress(OSError, RuntimeError):
        save_artifacts(folder, generation, vectors, keywords)
        # After a crash past the commit point the previous generation's files are still here; snapshots are
        # only made under the write lock, so no reader can still need them.
        remove_stale_artifacts(folder, generation)
    return vectors, keywords


def build_artifacts(conn, manifest: Manifest) -> tuple[VectorIndex, KeywordIndex]:
    """FAISS and BM25 rebuilt from the database, in chunk-id order."""
    rows = conn.execute(
        "SELECT c.article_rowid, c.start, c.end, v.vector FROM chunks c"
        " JOIN vectors v ON v.hash = c.vector_hash ORDER BY c.id"
    ).fetchall()
    n_chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    if len(rows) != n_chunks:
        raise RuntimeError("index database is missing vectors for some chunks; rebuild the index")
    titles, bodies = {}, {}
    for rowid, title, body in conn.execute("SELECT rowid, title, body FROM articles"):
        titles[rowid], bodies[rowid] = title, body
    matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(-1, manifest.dim)
    texts = [f"{titles[r[0]]}\n{bodies[r[0]][r[1]:r[2]]}" for r in rows]
    return VectorIndex.build(matrix, manifest.dim), KeywordIndex.build(texts)


def save_artifacts(folder: Path, generation: int, vectors: VectorIndex, keywords: KeywordIndex) -> None:
    dense_path, keyword_path = artifact_paths(folder, generation)
    tmp_dense = dense_path.with_name(dense_path.name + ".tmp")
    tmp_keyword = keyword_path.with_name(keyword_path.name + ".tmp")
    vectors.save(tmp_dense)
    keywords.save(tmp_keyword)
    for path in [tmp_dense, *tmp_keyword.iterdir()]:
        with open(path, "rb+") as handle:
            os.fsync(handle.fileno())
    if keyword_path.exists():
        shutil.rmtree(keyword_path)
    tmp_keyword.rename(keyword_path)
    tmp_dense.replace(dense_path)
    fsync_dir(folder)


def remove_stale_artifacts(folder: Path, keep_generation: int) -> None:
    keep = {p.name for p in artifact_paths(folder, keep_generation)}
    for path in folder.iterdir():
        if path.name.startswith(("dense-", "keyword-")) and path.name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


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
            return EmbeddedSnapshot(self.folder, self.manifest)

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

    def commit(self, additions: list[PreparedArticle], removals: list[str]) -> int:
        """Apply all changes in one transaction (the commit point), then write the derived files. Failing
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
                vectors, keywords = build_artifacts(self.conn, self.manifest)
                save_artifacts(self.folder, generation, vectors, keywords)
                remove_stale_artifacts(self.folder, generation)
            except (OSError, RuntimeError, sqlite3.Error) as err:
                raise DerivedFilesNotWritten(
                    f"{self.folder}: the change is stored (generation {generation}), but the search files could "
                    f"not be written ({_one_line(err)}); they are rebuilt from the database when the index is "
                    "next opened", generation) from err
            return generation

    def describe(self) -> str:
        return "embedded (FAISS inner product + BM25 + SQLite)"

    def stats(self) -> StoreStats:
        count = lambda table: self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return StoreStats(count("articles"), count("chunks"), count("sentences"), db.get_generation(self.conn), size)

    def close(self) -> None:
        self.conn.close()
