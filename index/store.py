"""The store behind one small interface: a writer that applies changes atomically, and
read-only snapshots that searches run against.

`EmbeddedStore` (FAISS + BM25 + SQLite in one folder) is the default; the Milvus backend
(index/milvus.py) implements the same `Store` and `Snapshot` protocols.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index import database as db
from index.articles import Article, Chunk, Sentence
from index.filters import Filters, compile_mask
from index.keywords import ArticleKeywords, KeywordIndex
from index.manifest import FORMAT_VERSION, Manifest, fsync_dir, read_manifest, write_manifest
from index.vectors import VectorIndex

# What a snapshot's mask() returns and its searches accept: opaque to callers, who combine masks with
# snapshot.intersect() and read them as positions with snapshot.allowed(). The embedded store's masks are
# boolean numpy arrays over positions; a distributed store's may carry a server-side filter expression.
# None: everything.
Mask = object


class IndexNotFound(Exception):
    pass


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
    def stats(self) -> StoreStats: ...
    def describe(self) -> str: ...
    def latest_generation(self) -> int | None: ...  # shared stores: the newest commit (cheap; polled)
    def close(self) -> None: ...


@dataclass(frozen=True)
class PreparedArticle:
    """An article ready to store: split, chunked and with one vector hash per chunk."""

    article: Article
    sentences: list[Sentence]
    chunks: list[Chunk]
    vector_hashes: list[str]


class EmbeddedSnapshot:
    """A consistent read view: SQLite read transaction + FAISS + BM25 of the same generation."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest
        self.conn = db.connect(folder / db.DB_NAME)
        self.conn.execute("BEGIN")  # WAL keeps this view fixed while writers commit
        self.generation = db.get_generation(self.conn)
        rows = self.conn.execute(
            "SELECT c.id, c.article_rowid, c.position, c.start, c.end, c.first_sentence, c.last_sentence"
            " FROM chunks c ORDER BY c.id"
        ).fetchall()
        table = np.array(rows, dtype=np.int64).reshape(-1, 7)
        self.chunk_ids, self.chunk_article_keys = table[:, 0], table[:, 1]
        self.lead_chunks = table[:, 2] == 0
        self._chunk_table = table
        self._articles = {r[0]: r for r in self.conn.execute(
            "SELECT a.rowid, a.id, a.title, a.source, a.published_at, a.url, a.authors, a.path,"
            " (SELECT COUNT(*) FROM chunks c WHERE c.article_rowid = a.rowid) FROM articles a")}
        self._rowid_by_id = {r[1]: rowid for rowid, r in self._articles.items()}
        per_article = [self._articles[int(r)] for r in self.chunk_article_keys]
        self.chunk_sources = np.array([r[3] for r in per_article], dtype=object)
        # A str array, so date windows compare vectorised; "" = undated.
        self.chunk_dates = np.array([r[4] or "" for r in per_article], dtype=str)
        self.newest_date = max((r[4] for r in self._articles.values() if r[4]), default="")
        self.vectors, self.keywords = load_or_build_artifacts(folder, self.conn, manifest, self.generation)
        self._body_cache: dict[int, str] = {}
        self._vector_cache: dict[int, np.ndarray] = {}
        self._duplicates: dict[str, str] | None = None
        self._article_lock = threading.Lock()
        self._articles_bm25: ArticleKeywords | None = None

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

    def _body(self, rowid: int) -> str:
        if rowid not in self._body_cache:
            if len(self._body_cache) > 2048:
                self._body_cache.clear()
            row = self.conn.execute("SELECT body FROM articles WHERE rowid = ?", (rowid,)).fetchone()
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
            self._vector_cache[position] = db.sentence_vectors(self.conn, int(self.chunk_ids[position]),
                                                               self.manifest.dim)
        return self._vector_cache[position]

    def near_duplicates(self) -> dict[str, str]:
        """article id -> its group's representative (the oldest), for articles with near-duplicates."""
        if self._duplicates is None:
            from index.near_duplicates import NearDuplicateIndex, from_bytes

            rows = self.conn.execute(
                "SELECT a.id, s.minhash FROM signatures s JOIN articles a ON a.rowid = s.article_rowid"
                " ORDER BY COALESCE(a.published_at, '9999'), a.rowid").fetchall()
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
        row = self.conn.execute(
            f"SELECT {db.ARTICLE_COLUMNS} FROM articles WHERE rowid = ?", (self.article_rowid(article_id),)
        ).fetchone()
        return db.article_from_row(row)

    def sentences(self, article_id: str) -> list[Sentence]:
        rowid = self.article_rowid(article_id)
        body = self._body(rowid)
        rows = self.conn.execute(
            "SELECT start, end FROM sentences WHERE article_rowid = ? ORDER BY idx", (rowid,)
        ).fetchall()
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
    with contextlib.suppress(OSError):  # read-only folder: the in-memory copy serves this process
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
    """FAISS + BM25 + SQLite in one folder. Only one writer at a time (a lock file)."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest
        self.conn = db.connect(folder / db.DB_NAME)

    @classmethod
    def open(cls, folder: Path | str, expected: Manifest | None = None, create: bool = False) -> EmbeddedStore:
        """Open an index folder; with `create`, make it if missing. Refuses a differently built index."""
        folder = Path(folder)
        stored = read_manifest(folder) if folder.exists() else None
        if stored is None:
            if not create or expected is None:
                raise IndexNotFound(f"{folder}: no index here (run 'assistant ingest --index {folder} FILES')")
            folder.mkdir(parents=True, exist_ok=True)
            write_manifest(folder, expected)
            stored = expected
        elif expected is not None:
            stored.check_compatible(expected, folder)
        elif stored.format_version != FORMAT_VERSION:  # reading (articles, info, remove): the format must match
            stored.check_compatible(Manifest(stored.model, stored.dim, stored.chunking), folder)
        return cls(folder, stored)

    def snapshot(self) -> EmbeddedSnapshot:
        with self.write_lock():
            db.fill_missing_signatures(self.conn)
            return EmbeddedSnapshot(self.folder, self.manifest)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        with open(self.folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        return db.cached_vectors(self.conn, hashes, self.manifest.dim)

    def cache_vectors(self, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """The cache is not index state: it is committed on its own, so a killed ingest keeps it."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            db.store_vectors(self.conn, items)

    def stored_hashes(self) -> dict[str, tuple[str, str]]:
        """article id -> (record hash, content hash) of what is stored now."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute("SELECT id, record_hash, content_hash FROM articles")}

    def commit(self, additions: list[PreparedArticle], removals: list[str]) -> int:
        """Apply all changes in one transaction (the commit point), then write the derived files."""
        with self.write_lock():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for article_id in removals:
                    self.conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
                for item in additions:
                    db.insert_article(self.conn, item.article, item.sentences, item.chunks, item.vector_hashes)
                generation = db.get_generation(self.conn) + 1
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            vectors, keywords = build_artifacts(self.conn, self.manifest)
            save_artifacts(self.folder, generation, vectors, keywords)
            remove_stale_artifacts(self.folder, generation)
            return generation

    def describe(self) -> str:
        return "embedded (FAISS inner product + BM25 + SQLite)"

    def latest_generation(self) -> None:
        """None: only this process's reload() changes what it reads (one folder, one writer lock)."""
        return None

    def stats(self) -> StoreStats:
        count = lambda table: self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        return StoreStats(count("articles"), count("chunks"), count("sentences"), db.get_generation(self.conn), size)

    def close(self) -> None:
        self.conn.close()
