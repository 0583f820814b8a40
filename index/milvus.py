"""The store in Milvus: `--index milvus://HOST:PORT/NAME`, so several app processes (on any machines,
with any working folders) share one index and nothing else.

Four collections per NAME, all state in Milvus:
- `NAME_chunks`: one row per chunk: its vector (HNSW, inner product on unit vectors), the fields
  filters need (article id and key, source, lower-cased source, date, lead flag), its offsets, its
  text and its sentences' pooled vectors (float16, base64: the same bits the embedded store keeps).
- `NAME_articles`: each article as JSON rows: a "head" (metadata, hashes, MinHash signature, chunk and
  sentence counts) that every snapshot reads, and a "body" (text, sentence offsets) read when a generation
  first sees that version (for BM25 and the sentence offsets kept in memory) and when a caller wants it;
  either is split into parts when longer than a VARCHAR holds.
- `NAME_meta`: the manifest and the generation counter. A commit writes chunks and articles, flushes,
  then bumps the generation with the timestamp of its last write: the commit point.
Every read of a snapshot passes that timestamp as its guarantee (consistency "Customized"), so it sees
at least its whole generation, and searches cost no Strong-consistency wait; the collections default
to Session consistency, so a writer also reads its own writes at once.

Positions 0..size-1 follow chunk ids, which increase with commit time, as the embedded store's do.
Dense search runs on the server with filters compiled to Milvus expressions (`MilvusMask`). Chunk
keyword search is the server's BM25 function where it has one (2.5+, milvus-lite 3; `has_bm25_function`),
else tantivy in this process over the chunk texts read from Milvus; whole-article BM25 is the embedded
store's bm25s, in this process. Replicas poll the generation (`latest_generation`); a new generation is
read as the difference from the one before (`MilvusTables.read`).
One writer at a time per NAME, across machines: a lease in NAME_meta (index/milvus_lease.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
import warnings
from collections import Counter, OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from urllib.parse import urlparse

import numpy as np

from index.articles import Article, Sentence
from index.filters import Filters, compile_mask, day_number, day_window
from index.keywords import ArticleKeywords, Bm25Index, KeywordIndex, KeywordView
from index.manifest import IndexMismatch, Manifest
from index.milvus_lease import WriterLease
from index.sentence_spread import SpreadCounter, article_keys
from index.store import (
    ArticleInfo,
    IndexBusy,
    IndexNotFound,
    PreparedArticle,
    SnapshotExpired,
    StoredChunk,
    StoreStats,
)

VARCHAR_MAX = 65535  # bytes in one Milvus VARCHAR
PART_BYTES = 60000  # JSON split into parts below the VARCHAR limit
QUERY_PAGE = 16384  # the most rows one Milvus query returns
def _stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return list(STOPWORDS_EN)


# The server's analyser: words, lower case, the client side's English stopwords (no stemming: milvus-lite
# has no stemmer; Milvus 2.5's "english" analyser would add one)
ANALYZER = {"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": _stopwords()}]}
HNSW = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 200}}
MIN_EF = 128  # search breadth: ef = max(MIN_EF, k); recall@10 measured in eval/bench_milvus.py
SENTENCE_CACHE = 8192  # chunks' sentence vectors kept per store (~5 KB each at 384 dimensions)
BODY_CACHE = 2048  # article bodies kept per store, by article id and version (head seq)
POLL_SECONDS = 0.5  # how often latest_generation() asks the server
DUMMY_DIM = 2  # Milvus 2.3 needs a vector field in every collection

# pymilvus 2.6-3.0 marks its ORM API (the one that returns write timestamps) deprecated, to go in 3.1;
# the `milvus` extra pins pymilvus below 3.1.
warnings.filterwarnings("ignore", message=".*ORM-style PyMilvus API")


class BoundedCache:
    """At most `size` entries, the least recently used dropped first; safe across threads. For what never
    changes under its key (a chunk id's sentence vectors, an article version's body), so that a process
    answering many questions reads each from the server once, across generations."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def update(self, items) -> None:
        with self._lock:
            for key, value in dict(items).items():
                self._data[key] = value
                self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class MilvusMask:
    """A compiled filter: the server-side expression for dense search, and the same filter as booleans
    over the snapshot's positions (for BM25 in this process and for the time priors' boosts)."""

    def __init__(self, expr: str, array: np.ndarray):
        self.expr, self.array = expr, array

    def __and__(self, other: MilvusMask) -> MilvusMask:
        return MilvusMask(f"({self.expr}) and ({other.expr})", self.array & other.array)


def parse_uri(location: str) -> tuple[str, str]:
    """milvus://HOST:PORT/NAME -> (http://HOST:PORT, NAME)."""
    parsed = urlparse(str(location))
    name = parsed.path.strip("/")
    if parsed.scheme.lower() != "milvus" or not parsed.hostname or not name:
        raise IndexMismatch(f"{location}: expected milvus://HOST:PORT/NAME")
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise IndexMismatch(f"{location}: NAME must be letters, digits and _ and start with a letter")
    return f"http://{parsed.hostname}:{parsed.port or 19530}", name


def has_bm25_function(version: str) -> bool:
    """Whether a server of this version has the BM25 function and sparse BM25 search: Milvus 2.5 and
    later, and milvus-lite 3 (which reports "milvus_lite-3.x"). 2.3 accepts the schema but ignores it."""
    lite = version.startswith("milvus_lite-")
    numbers = [int(n) for n in re.findall(r"\d+", version.removeprefix("milvus_lite-"))[:2]] + [0, 0]
    return numbers[0] >= 3 if lite else tuple(numbers[:2]) >= (2, 5)


def literal(value: str) -> str:
    """A string literal for a Milvus expression."""
    return json.dumps(value, ensure_ascii=False)


def article_key(article_id: str) -> int:
    """A stable opaque int per article id, the same in every process."""
    return int.from_bytes(hashlib.blake2b(article_id.encode(), digest_size=8).digest(), "big") >> 1


def _b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def _split(text: str) -> list[str]:
    """Pieces of at most PART_BYTES UTF-8 bytes each, cut between characters."""
    data = text.encode()
    parts, start = [], 0
    while start < len(data) or not parts:
        end = min(len(data), start + PART_BYTES)
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a multi-byte character
            end -= 1
        parts.append(data[start:end].decode())
        start = end
    return parts


class MilvusStore:
    """The writer and the factory of snapshots, for one NAME on one Milvus server."""

    def __init__(self, location: str, alias: str, name: str, manifest: Manifest, server_version: str):
        self._writer_lock = threading.RLock()
        self._writer_depth = 0
        self.location, self.alias, self.name = location, alias, name
        self.manifest = manifest
        self.server_version = server_version
        self.server_bm25 = False  # set by open(): this NAME's chunks carry the server's BM25 function
        self._vectors: dict[str, tuple[np.ndarray, str]] = {}  # embedded in this process, not yet committed
        self._polled = (0.0, -1, 0)  # (when, generation, its commit timestamp) last read by latest_generation
        self._cache: MilvusTables | None = None
        self._cache_lock = threading.Lock()
        self._lease = WriterLease(lambda: self._collection("meta"), location)
        self._keywords: KeywordIndex | None = None  # BM25 over the chunk texts, in this process
        # article id -> (head seq, BM25 term ids in order of first use, their counts, its number of terms)
        self._article_terms: dict[str, tuple[int, np.ndarray, np.ndarray, int]] = {}
        self._article_vocab: dict[str, int] = {}
        # article id -> (head seq, its sentences' offsets), kept from the bodies the BM25 above reads: with the
        # chunk texts in memory, an answer's sentences need no body read (MilvusSnapshot.sentences)
        self._sentence_spans: dict[str, tuple[int, np.ndarray]] = {}
        self._spread = SpreadCounter()  # articles holding each sentence, from those same bodies, by difference
        self._sentence_blobs = BoundedCache(SENTENCE_CACHE)  # chunk id -> float16 sentence vectors (rows never change)
        self._bodies = BoundedCache(BODY_CACHE)  # (article id, head seq) -> {"body", "sentences"}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="milvus-read")
        self._collections: dict[str, object] = {}  # kind -> pymilvus Collection
        self._groups = None  # NearDuplicateGroups of the last heads asked about
        self._groups_lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, location: str, expected: Manifest | None = None, create: bool = False) -> MilvusStore:
        from pymilvus import connections, utility

        uri, name = parse_uri(location)
        alias = f"assistant-{uuid.uuid4().hex[:8]}"
        try:
            connections.connect(alias=alias, uri=uri, timeout=10)
        except Exception as err:  # noqa: BLE001 - one line for the user
            raise IndexNotFound(f"{location}: cannot reach Milvus at {uri} ({type(err).__name__})") from None
        version = utility.get_server_version(using=alias)
        meta_name = f"{name}_meta"
        if not utility.has_collection(meta_name, using=alias):
            if not create or expected is None:
                connections.disconnect(alias)
                raise IndexNotFound(f"{location}: no index here (run 'assistant ingest --index {location} FILES')")
            stored = Manifest(expected.model, expected.dim, expected.chunking, expected.format_version, "milvus")
            _create_collections(alias, name, stored, server_bm25=has_bm25_function(version))
        else:
            _load(alias, name)
            stored = _read_manifest(alias, name)
            if expected is not None:
                stored.check_compatible(expected, location)
        store = cls(location, alias, name, stored, version)
        from pymilvus import Collection

        store.server_bm25 = any(f.name == "sparse" for f in Collection(f"{name}_chunks", using=alias).schema.fields)
        return store

    def _collection(self, kind: str):
        """The collection's handle, made once: making one asks the server twice (has_collection and
        describe_collection), which had cost ~20 ms of every answer (three to four reads each)."""
        collection = self._collections.get(kind)
        if collection is None:
            from pymilvus import Collection

            collection = self._collections[kind] = Collection(f"{self.name}_{kind}", using=self.alias)
        return collection

    # -- reading ---------------------------------------------------------------------------------
    def _generation(self, consistency: str = "Strong") -> tuple[int, int]:
        rows = self._collection("meta").query('key == "generation"', output_fields=["value"],
                                              consistency_level=consistency)
        if not rows:
            return 0, 0
        value = json.loads(rows[0]["value"])
        return int(value["generation"]), int(value["ts"])

    def latest_generation(self) -> int:
        """The newest committed generation, asked of the server at most every POLL_SECONDS (the read
        waits for nothing: a commit becomes visible here within a time tick)."""
        now = time.monotonic()
        if now - self._polled[0] >= POLL_SECONDS:
            try:
                self._polled = (now, *self._generation("Eventually"))
            except Exception:  # noqa: BLE001 - a server hiccup: keep answering from the current snapshot
                self._polled = (now, *self._polled[1:])
        return self._polled[1]

    def snapshot(self) -> MilvusSnapshot:
        """The newest generation's snapshot. Right after latest_generation() saw a new one (an app's
        reload), that generation and commit timestamp are used as read: a read pinned to the timestamp sees
        the whole generation, and the Strong read of the counter (~0.2 s, a wait for the server's time
        tick) would only confirm it. Otherwise (first snapshot, after this process's own commit) Strong."""
        polled_at, generation, ts = self._polled
        newer = self._cache is None or generation > self._cache.generation
        if generation < 0 or not newer or time.monotonic() - polled_at >= POLL_SECONDS:
            generation, ts = self._generation()
        with self._cache_lock:
            if self._cache is None or self._cache.generation != generation:
                self._cache = MilvusTables.read(self, generation, ts, previous=self._cache)
            return MilvusSnapshot(self, self._cache)

    def near_duplicate_groups(self, heads: dict[str, dict]) -> dict[str, str]:
        """article id -> its group's representative, for these heads (one generation's), updated from the
        last heads asked about by the difference (NearDuplicateGroups; a head's seq is its version)."""
        from index.near_duplicates import NearDuplicateGroups, from_bytes

        current = {a: (h["seq"], (h["published_at"] or "9999", h["seq"])) for a, h in heads.items()}
        with self._groups_lock:
            if self._groups is None:
                self._groups = NearDuplicateGroups()
            return self._groups.update(current, lambda a: from_bytes(base64.b64decode(heads[a]["minhash"])))

    def stored_hashes(self) -> dict[str, tuple[str, str]]:
        heads = _read_heads(self._collection("articles"), self._generation()[1])
        return {aid: (h["record_hash"], h["content_hash"]) for aid, h in heads.items()}

    # -- writing ---------------------------------------------------------------------------------
    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors of texts embedded before: in this ingest, or stored with any chunk of this index."""
        found = {h: self._vectors[h][0] for h in hashes if h in self._vectors}
        wanted = [h for h in dict.fromkeys(hashes) if h not in found]
        chunks = self._collection("chunks")
        for i in range(0, len(wanted), 500):
            expr = f"vector_hash in [{', '.join(literal(h) for h in wanted[i:i + 500])}]"
            for row in chunks.query(expr, output_fields=["vector_hash", "vector", "sentence_vectors"],
                                    consistency_level="Session"):
                vector = np.asarray(row["vector"], dtype=np.float32)
                self._vectors.setdefault(row["vector_hash"], (vector, row["sentence_vectors"]))
                found[row["vector_hash"]] = vector
        return found

    def cache_vectors(self, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Kept in this process until the commit stores them with their chunks (a killed ingest embeds
        again; the embedded store keeps its cache on disk)."""
        for key, (vector, sentence_vectors) in items.items():
            self._vectors[key] = (np.asarray(vector, dtype=np.float32), _b64(sentence_vectors, np.float16))

    def commit(self, additions: list[PreparedArticle], removals: list[str]) -> int:
        """Delete the removed and replaced articles, insert the new rows, flush, then bump the
        generation (the commit point: readers switch to it as one step)."""
        chunks, articles = self._collection("chunks"), self._collection("articles")
        if self._writer_depth:  # a commit outside writer() (a test's) takes no lease
            self._lease.check()
        generation, _ = self._generation()
        stamps = []
        gone = list(dict.fromkeys([*removals, *(item.article.id for item in additions)]))
        for i in range(0, len(gone), 500):
            expr = f"article_id in [{', '.join(literal(a) for a in gone[i:i + 500])}]"
            stamps.append(chunks.delete(expr).timestamp)
            stamps.append(articles.delete(expr).timestamp)
        base = time.time_ns() // 1_000_000 << 20  # ids grow with commit time: positions follow insertion order
        chunk_rows, article_rows = [], []
        for n, item in enumerate(additions):
            chunk_rows += self._chunk_rows(item, base + len(chunk_rows))
            article_rows += _article_rows(item, base + n)
        for rows, collection in ((chunk_rows, chunks), (article_rows, articles)):
            batch: list[dict] = []
            size = 0
            for row in rows:
                batch.append(row)
                size += sum(len(v) for v in row.values() if isinstance(v, str)) + 4 * len(row.get("vector", ()))
                if size > 8_000_000 or len(batch) >= 2000:
                    stamps.append(collection.insert(batch).timestamp)
                    batch, size = [], 0
            if batch:
                stamps.append(collection.insert(batch).timestamp)
        # Seal what was written (sealed segments get the HNSW index; growing ones are searched by brute
        # force, or by a coarse interim index on servers that enable it); visibility needs no wait.
        chunks.flush(_async=True)
        articles.flush(_async=True)
        if self._writer_depth:
            self._lease.check()  # the commit point: refused if another writer took over meanwhile
        generation += 1
        value = json.dumps({"generation": generation, "ts": max(stamps, default=0)})
        self._collection("meta").upsert([{"key": "generation", "value": value, "dummy": [1.0, 0.0]}])
        self._vectors.clear()
        self._polled = (0.0, -1, 0)
        return generation

    def _chunk_rows(self, item: PreparedArticle, first_id: int) -> list[dict]:
        article = item.article
        date = (article.published_at or "")[:10]
        rows = []
        for i, (chunk, key) in enumerate(zip(item.chunks, item.vector_hashes, strict=True)):
            vector, sentence_vectors = self._vectors.get(key) or (None, None)
            if vector is None:
                raise RuntimeError(f"no vector for a chunk of '{article.id}' (ingest embeds before committing)")
            text = article.body[chunk.start:chunk.end]
            if len(text.encode()) > VARCHAR_MAX or len(sentence_vectors) > VARCHAR_MAX:
                raise ValueError(f"article '{article.id}': a chunk longer than Milvus stores in one field")
            rows.append({
                "chunk_id": first_id + i, "article_key": article_key(article.id), "article_id": article.id,
                "chunk_index": chunk.position, "start": chunk.start, "end": chunk.end,
                "first_sentence": chunk.first_sentence, "last_sentence": chunk.last_sentence,
                "source": article.source, "source_key": article.source.lower(), "date": date,
                "lead": chunk.position == 0, "vector_hash": key, "text": text,
                "sentence_vectors": sentence_vectors, "vector": vector.tolist(),
            })
            if self.server_bm25:
                rows[-1]["keyword_text"] = f"{article.title}\n{text}"
        return rows

    # -- about -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, wait: bool = True, on_wait=None):
        """One ingest or removal at a time per NAME: in this process a lock (re-entrant), across processes
        and machines the writer lease in NAME_meta (index/milvus_lease.py), held until the last exit."""
        if not self._writer_lock.acquire(blocking=False):
            if not wait:
                raise IndexBusy(f"{self.location}: another ingest or removal is running in this process")
            self._writer_lock.acquire()
        try:
            if self._writer_depth == 0:
                self._lease.acquire(wait=wait, on_wait=on_wait)
            self._writer_depth += 1
            try:
                yield
            finally:
                self._writer_depth -= 1
                if self._writer_depth == 0:
                    self._lease.release()
        finally:
            self._writer_lock.release()

    def stats(self) -> StoreStats:
        tables = self.snapshot().tables
        heads = tables.heads
        return StoreStats(len(heads), len(tables.chunk_ids), sum(h["n_sentences"] for h in heads.values()),
                          tables.generation, 0)

    def describe(self) -> str:
        keywords = ("chunk BM25 on the server (its BM25 function over title and text; no stemming), whole-article "
                    "BM25 in this process" if self.server_bm25 else
                    "BM25 in this process (tantivy, in memory, updated by each generation's changes) over the chunk "
                    "texts in Milvus: this server has no BM25 function" if not has_bm25_function(self.server_version)
                    else "BM25 in this process (tantivy, in memory): this index was made without the server's "
                    "BM25 function")
        return (f"milvus {self.server_version} at {self.location} (HNSW inner product on the server; {keywords}; "
                "Session consistency, reads pinned to each generation's commit timestamp)")

    def drop(self) -> None:
        """Delete this NAME's collections (tests, benchmarks)."""
        from pymilvus import utility

        self._collections.clear()
        for kind in ("chunks", "articles", "meta"):
            with contextlib.suppress(Exception):
                utility.drop_collection(f"{self.name}_{kind}", using=self.alias)

    def close(self) -> None:
        from pymilvus import connections

        self._pool.shutdown(wait=False)
        with contextlib.suppress(Exception):
            connections.disconnect(self.alias)


def _article_rows(item: PreparedArticle, seq: int) -> list[dict]:
    from index.database import body_signature

    a = item.article
    head = {"id": a.id, "title": a.title, "source": a.source, "authors": list(a.authors),
            "published_at": a.published_at, "url": a.url, "path": a.path, "content_hash": a.content_hash,
            "record_hash": a.record_hash, "n_chunks": len(item.chunks), "n_sentences": len(item.sentences),
            "seq": seq, "minhash": base64.b64encode(body_signature(a.body)).decode("ascii")}
    body = {"body": a.body, "sentences": [[s.start, s.end] for s in item.sentences]}
    rows = []
    for kind, record in (("head", head), ("body", body)):
        for part, data in enumerate(_split(json.dumps(record, ensure_ascii=False))):
            rows.append({"pk": f"{kind}:{part}:{a.id}", "article_id": a.id, "kind": kind, "part": part,
                         "data": data, "dummy": [1.0, 0.0]})
    return rows


def _join_parts(rows: list[dict]) -> dict[str, dict]:
    by_article: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        by_article.setdefault(row["article_id"], []).append((row["part"], row["data"]))
    return {aid: json.loads("".join(d for _, d in sorted(parts))) for aid, parts in by_article.items()}


def _query_all(collection, pk: str, expr: str, fields: list[str], ts: int) -> list[dict]:
    """Every row matching expr, paged by primary key (a query returns at most 16384 rows, in key order,
    and at most the server's result size: a page too large is asked again in halves)."""
    rows: list[dict] = []
    last, page_size = None, QUERY_PAGE
    while True:
        page_expr = expr if last is None else f"({expr}) and {pk} > {json.dumps(last, ensure_ascii=False)}"
        try:
            page = collection.query(page_expr, output_fields=[pk, *fields], limit=page_size,
                                    consistency_level="Customized", guarantee_timestamp=ts)
        except Exception as err:
            if "exceed the limit size" not in str(err) or page_size <= 256:
                raise
            page_size //= 2
            continue
        rows += page
        if len(page) < page_size:
            return rows
        last = max(r[pk] for r in page)


def _read_heads(collection, ts: int) -> dict[str, dict]:
    return _join_parts(_query_all(collection, "pk", 'kind == "head"', ["article_id", "part", "data"], ts))


@dataclass
class MilvusTables:
    """What one generation holds, read once and shared by that generation's snapshots in this process.
    Sentence vectors are not here: an answer reads those of its passages and their neighbours, kept by chunk
    id in the store's bounded cache (all of them would be ~5 KB a chunk, 200 MB at 30k chunks, and more
    than one query may return)."""

    generation: int
    ts: int
    chunk_ids: np.ndarray
    table: np.ndarray  # per position: chunk_index, start, end, first_sentence, last_sentence
    article_ids: list[str]
    texts: list[str]
    heads: dict[str, dict]
    keywords: KeywordView  # chunks, by position
    article_keywords: ArticleKeywords  # whole articles, by article key

    @classmethod
    def read(cls, store: MilvusStore, generation: int, ts: int, previous: MilvusTables | None = None
             ) -> MilvusTables:
        """With `previous` (an older generation read here), only the chunks added since are read: rows of
        articles whose head is unchanged are kept, and every commit's chunk ids exceed the older ones'.
        If the counts do not add up to the heads' (a clock stepped back), everything is read again."""
        fields = ["article_id", "chunk_index", "start", "end", "first_sentence", "last_sentence", "text"]
        heads = _read_heads(store._collection("articles"), ts)
        keep: list[int] = []
        expr = "chunk_id >= 0"
        incremental = previous is not None and previous.chunk_ids.size > 0
        if incremental:
            keep = [i for i, a in enumerate(previous.article_ids)
                    if a in heads and heads[a]["seq"] == previous.heads[a]["seq"]]
            expr = f"chunk_id > {int(previous.chunk_ids.max())}"
        rows = _query_all(store._collection("chunks"), "chunk_id", expr, fields, ts)
        rows.sort(key=lambda r: r["chunk_id"])
        rows = [r for r in rows if r["article_id"] in heads]
        if incremental and len(keep) + len(rows) != sum(h["n_chunks"] for h in heads.values()):
            return cls.read(store, generation, ts)
        # the keyword indexes (chunks; whole articles) live in the store (tantivy, in memory) and change by
        # the difference; each generation's views keep searching their own commit
        if store._keywords is None or not incremental:
            store._keywords = KeywordIndex.open(None)
            gone: list[int] = []
        else:
            kept = np.zeros(previous.chunk_ids.size, dtype=bool)
            kept[keep] = True
            gone = previous.chunk_ids[~kept].tolist()
        if not store.server_bm25:  # else the chunks' BM25 is the server's
            store._keywords.apply([(r["chunk_id"], f"{heads[r['article_id']]['title']}\n{r['text']}",
                                    day_number(heads[r["article_id"]]["published_at"])) for r in rows], gone)
        articles = _article_keywords(store, heads, ts)
        table = np.array([[r["chunk_index"], r["start"], r["end"], r["first_sentence"], r["last_sentence"]]
                          for r in rows], dtype=np.int64).reshape(-1, 5)
        chunk_ids = np.array([r["chunk_id"] for r in rows], dtype=np.int64)
        article_ids = [r["article_id"] for r in rows]
        texts = [r["text"] for r in rows]
        if keep:
            chunk_ids = np.concatenate([previous.chunk_ids[keep], chunk_ids])
            table = np.concatenate([previous.table[keep], table])
            article_ids = [previous.article_ids[i] for i in keep] + article_ids
            texts = [previous.texts[i] for i in keep] + texts
        return cls(generation, ts, chunk_ids, table, article_ids, texts, heads, store._keywords.view(chunk_ids),
                   articles)


def _is_version(body: dict, head: dict) -> bool:
    """Whether a body read from the server is the version this head describes (reads see at least, not
    exactly, a generation's commit)."""
    from index.articles import text_hash

    return text_hash(head["title"].strip() + "\n" + body["body"].strip()) == head["content_hash"]


def _article_keywords(store: MilvusStore, heads: dict[str, dict], ts: int) -> ArticleKeywords:
    """bm25s over whole articles, exactly the embedded store's (title twice, then the body; articles in
    commit order), so both rank articles alike. Each article's term counts are kept in the store by head,
    as ids in one vocabulary that only grows, so a new generation reads and tokenizes only its new and
    changed bodies, and the index is computed from the counts (bm25_from_counts: 0.85 s for 2,938 RTQA
    articles through bm25s's own build from ids; a word left only by removed articles matches nothing, so
    scores are unchanged)."""
    from index.keywords import terms

    cache, vocab, spans = store._article_terms, store._article_vocab, store._sentence_spans
    for gone in [a for a in cache if a not in heads or cache[a][0] != heads[a]["seq"]]:
        del cache[gone]
        spans.pop(gone, None)
        store._spread.discard(gone)
    wanted = [a for a in heads if a not in cache]
    collection = store._collection("articles")
    for i in range(0, len(wanted), 200):
        ids = wanted[i:i + 200]
        rows = _query_all(collection, "pk", f'article_id in [{", ".join(literal(a) for a in ids)}] and kind == "body"',
                          ["article_id", "part", "data"], ts)
        for article_id, body in _join_parts(rows).items():
            if not _is_version(body, heads[article_id]):  # replaced by a commit after `heads` was read
                continue
            title = heads[article_id]["title"]
            words = terms(f"{title}\n{title}\n{body['body']}")
            ids = [vocab.setdefault(w, len(vocab)) for w in words]
            counts = Counter(ids)  # in order of first use, as bm25s counts them
            cache[article_id] = (heads[article_id]["seq"], np.fromiter(counts.keys(), np.int64, len(counts)),
                                 np.fromiter(counts.values(), np.float32, len(counts)), len(ids))
            spans[article_id] = (heads[article_id]["seq"],
                                 np.array(body["sentences"], dtype=np.int64).reshape(-1, 2))
            store._spread.set(article_id, article_keys(body["body"][s:e] for s, e in body["sentences"]))
    ordered = sorted((a for a in heads if a in cache), key=lambda a: heads[a]["seq"])
    if not ordered:
        return ArticleKeywords(np.zeros(0, dtype=np.int64), Bm25Index(None, 0))
    model = bm25_from_counts([cache[a][1:] for a in ordered], dict(vocab))
    return ArticleKeywords(np.array([article_key(a) for a in ordered], dtype=np.int64), Bm25Index(model, len(ordered)))


def bm25_from_counts(docs: list[tuple[np.ndarray, np.ndarray, int]], vocab: dict[str, int]):
    """The bm25s index (default: Lucene BM25, k1 1.5, b 0.75, float32) that `BM25().index(Tokenized(ids,
    vocab))` builds, bit for bit, from each document's (term ids, their counts, its number of terms) in
    array operations: bm25s's build counts every document's terms again in Python (0.85 s for the 2,938
    RTQA articles, the bulk of a replica's refresh). Same formulas, same order of float operations and
    types; tests/test_milvus_fast.py compares the two."""
    import bm25s
    from bm25s.scoring import _score_idf_lucene

    model = bm25s.BM25()
    assert (model.method, model.k1, model.b, model.dtype, model.int_dtype) == ("lucene", 1.5, 0.75, "float32", "int32")
    n_docs, n_vocab = len(docs), len(vocab)
    lengths = np.array([n for _, _, n in docs])
    avg_doc_len = lengths.mean()
    voc = np.concatenate([v for v, _, _ in docs]) if docs else np.zeros(0, dtype=np.int64)
    tf = np.concatenate([c for _, c, _ in docs]) if docs else np.zeros(0, dtype=np.float32)
    per_doc = np.array([len(v) for v, _, _ in docs], dtype=np.int64)
    doc_idx = np.repeat(np.arange(n_docs, dtype=np.int32), per_doc)
    doc_freqs = np.bincount(voc, minlength=n_vocab)
    idf = np.zeros(n_vocab, dtype=np.float32)
    for df in np.unique(doc_freqs[doc_freqs > 0]).tolist():  # math.log, as bm25s, once per distinct count
        idf[doc_freqs == df] = _score_idf_lucene(df, N=n_docs)
    # per document: tf / (k1 * ((1 - b) + b * l_d / l_avg) + tf), the length term a float64 scalar
    length_term = np.array([model.k1 * ((1 - model.b) + model.b * int(n) / avg_doc_len) for n in lengths.tolist()],
                           dtype=np.float64)
    tfc = tf / (np.repeat(length_term, per_doc) + tf)
    scores_flat = (idf[voc] * tfc).astype(np.float32)
    data, indices, indptr = model._np_csc(data=scores_flat, rows=doc_idx, cols=voc.astype(np.int32),
                                          shape=(n_docs, n_vocab))  # bm25s's own sparse layout
    vocab = dict(vocab)
    vocab.setdefault("", max(vocab.values(), default=-1) + 1)  # bm25s's empty token, outside the matrix
    model.scores = {"data": data.astype(model.dtype), "indices": indices, "indptr": indptr, "num_docs": n_docs}
    model.vocab_dict = vocab
    model.unique_token_ids_set = set(vocab.values())
    model.nonoccurrence_array = None  # only BM25L and BM25+ have one
    return model


class MemoryChunkTexts:
    """chunk_texts of a Milvus snapshot (see index.store.ChunkTexts): its generation's tables hold every
    chunk's text, so the spans and texts come from memory, and a ranking's ~200 passages are made without
    a StoredChunk each (2 ms an answer)."""

    def __init__(self, tables: MilvusTables, positions):
        positions = sorted({int(p) for p in positions})
        rows = tables.table[positions].tolist() if positions else []
        ids = tables.chunk_ids[positions].tolist() if positions else []
        # position -> (chunk id, article id, start, end)
        self.spans = {p: (int(c), tables.article_ids[p], r[1], r[2])
                      for p, c, r in zip(positions, ids, rows, strict=True)}
        self._texts = tables.texts

    def text(self, position: int) -> str:
        return self._texts[position]


class MilvusSnapshot:
    """A read view of one generation: positions, metadata and BM25 from memory, dense search on the server."""

    def __init__(self, store: MilvusStore, tables: MilvusTables):
        self.store, self.tables = store, tables
        self.manifest = store.manifest
        self.generation = tables.generation
        heads = tables.heads
        self._position = {int(c): i for i, c in enumerate(tables.chunk_ids)}
        keys = {a: article_key(a) for a in heads}
        self.chunk_article_keys = np.array([keys[a] for a in tables.article_ids], dtype=np.int64)
        self.chunk_sources = np.array([heads[a]["source"] for a in tables.article_ids], dtype=object)
        self.chunk_dates = np.array([(heads[a]["published_at"] or "")[:10] for a in tables.article_ids], dtype=str)
        self.lead_chunks = tables.table[:, 0] == 0
        self.newest_date = max((h["published_at"] for h in heads.values() if h["published_at"]), default="")
        self._sentences: dict[str, list[Sentence]] = {}
        self._infos: dict[str, ArticleInfo] = {}
        self._duplicates: dict[str, str] | None = None
        self._by_article: dict[str, list[int]] | None = None

    @property
    def size(self) -> int:
        return len(self.tables.chunk_ids)

    def current_generation(self) -> int:
        """The store's newest committed generation (polled on the server at most every POLL_SECONDS)."""
        return self.store.latest_generation()

    # -- filters ---------------------------------------------------------------------------------
    def mask(self, filters: Filters | None, keep_undated: bool = False) -> MilvusMask | None:
        array = compile_mask(filters, sources=self.chunk_sources, dates=self.chunk_dates,
                             article_positions=self._positions_of_articles, keep_undated=keep_undated)
        if array is None:
            return None
        return MilvusMask(filter_expression(filters, keep_undated), array)

    def intersect(self, a: MilvusMask | None, b: MilvusMask | None) -> MilvusMask | None:
        return b if a is None else a if b is None else a & b

    def allowed(self, mask: MilvusMask | None) -> np.ndarray:
        return np.ones(self.size, dtype=bool) if mask is None else mask.array

    def _positions_of_articles(self, article_ids: set[str]) -> np.ndarray:
        return np.array([a in article_ids for a in self.tables.article_ids], dtype=bool)

    # -- searches --------------------------------------------------------------------------------
    def search_dense(self, vector, k, mask=None):
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if self.size == 0 or k <= 0 or (mask is not None and not mask.array.any()):
            return empty
        k = min(k, self.size)
        result = self.store._collection("chunks").search(
            data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="vector",
            param={"metric_type": "IP", "params": {"ef": max(MIN_EF, k)}}, limit=k,
            expr=mask.expr if mask is not None else None, output_fields=[],
            consistency_level="Customized", guarantee_timestamp=self.tables.ts)
        hits = [(self._position.get(int(i)), float(d)) for i, d in zip(result[0].ids, result[0].distances, strict=True)]
        hits = [(p, s) for p, s in hits if p is not None]  # rows newer than this snapshot
        if not hits:
            return empty
        positions = np.array([p for p, _ in hits], dtype=np.int64)
        return positions, np.array([s for _, s in hits], dtype=np.float32)

    def start_dense(self, vector, k, mask=None):
        """search_dense sent off on the store's reader threads; the returned call waits for its hits (the
        engine searches keywords meanwhile, and a time prior's window search runs beside it)."""
        return self.store._pool.submit(self.search_dense, vector, k, mask).result

    def start_window(self, text, vector, k, mask, date_from, date_to):
        """search_window, started: the dense search with the window in its expression goes to the server
        now (the engine starts it beside the unwindowed one); the returned call searches keywords here,
        with the window as a day range inside tantivy (a masked search had to fetch hits until enough fell
        inside: 8 ms for a week's window), and waits for the dense hits. Only leaf searches go to the
        reader threads, so concurrent questions cannot fill them with jobs that wait on queued jobs."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        window = self.intersect(self.mask(Filters().within(date_from, date_to), keep_undated=True), mask)
        pending = None if vector is None else self.store._pool.submit(self.search_dense, vector, k, window)

        def finish():
            try:
                if not text:
                    keyword = empty
                elif self.store.server_bm25:
                    keyword = self.search_keyword(text, k, window)
                else:
                    keyword = self.tables.keywords.search(text, k, None if mask is None else mask.array,
                                                          days=day_window(date_from, date_to))
                inside = self.allowed(window)
            finally:
                dense = empty if pending is None else pending.result()
            return dense, keyword, inside

        return finish

    def search_window(self, text, vector, k, mask, date_from, date_to):
        """(dense hits, keyword hits, inside) for a date window (undated chunks count as inside) within
        `mask`, as the embedded store's (start_window, finished at once)."""
        return self.start_window(text, vector, k, mask, date_from, date_to)()

    def search_keyword(self, text, k, mask=None):
        if not self.store.server_bm25:
            return self.tables.keywords.search(text, k, None if mask is None else mask.array)
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if self.size == 0 or k <= 0 or not text.strip() or (mask is not None and not mask.array.any()):
            return empty
        result = self.store._collection("chunks").search(
            data=[text], anns_field="sparse", param={"metric_type": "BM25", "params": {}}, limit=min(k, self.size),
            expr=mask.expr if mask is not None else None, output_fields=["chunk_id"],
            consistency_level="Customized", guarantee_timestamp=self.tables.ts)
        # BM25 scores are never negative; milvus-lite reports them negated, as distances
        return self._hits(result[0], score=abs)

    def _hits(self, hits, score=float) -> tuple[np.ndarray, np.ndarray]:
        """Server hits as (positions, scores), leaving out rows newer than this snapshot and zero scores."""
        found = [(self._position.get(int(h.id)), score(float(h.distance))) for h in hits]
        found = [(p, s) for p, s in found if p is not None and s > 0]
        return (np.array([p for p, _ in found], dtype=np.int64), np.array([s for _, s in found], dtype=np.float32))

    def search_articles(self, text, k, mask=None):
        """BM25 over whole articles (title twice, then the body), as the embedded store ranks them."""
        allowed = None if mask is None else np.unique(self.chunk_article_keys[mask.array])
        return self.tables.article_keywords.search(text, k, allowed)

    # -- reading ---------------------------------------------------------------------------------
    def chunk(self, position: int) -> StoredChunk:
        t = self.tables
        idx, start, end, first, last = (int(v) for v in t.table[position])
        return StoredChunk(int(t.chunk_ids[position]), int(position), t.article_ids[position], idx, start, end,
                           first, last, t.texts[position])

    def sentence_vectors(self, position: int) -> np.ndarray:
        """Read with those of the article's other chunks in one query (an answer looks at neighbours), and
        kept by chunk id in the store (rows never change, so every later generation reuses them)."""
        blobs = self.store._sentence_blobs
        chunk_id = int(self.tables.chunk_ids[position])
        blob = blobs.get(chunk_id)
        if blob is None:
            ids = [int(self.tables.chunk_ids[p]) for p in self._article_positions(self.tables.article_ids[position])]
            rows = self.store._collection("chunks").query(
                f"chunk_id in [{', '.join(map(str, ids))}]", output_fields=["chunk_id", "sentence_vectors"],
                consistency_level="Customized", guarantee_timestamp=self.tables.ts)
            fetched = {int(row["chunk_id"]): base64.b64decode(row["sentence_vectors"]) for row in rows}
            blobs.update(fetched)
            blob = fetched.get(chunk_id)
            if blob is None:
                raise KeyError(f"chunk {chunk_id} was removed from the index since this snapshot")
        return np.frombuffer(blob, dtype=np.float16).reshape(-1, self.manifest.dim).astype(np.float32)

    def prefetch(self, positions) -> None:
        """What choosing an answer's sentences reads, each kind in one query (two side by side when both
        are needed): the sentence vectors of these positions and their neighbours not yet kept (as the
        embedded store's prefetch; not every chunk of their articles), and the bodies of articles whose
        sentences are not in memory (rare: the store keeps each version's sentence offsets)."""
        articles = list(dict.fromkeys(self.tables.article_ids[int(p)] for p in positions))
        bodies = [a for a in articles if self._body_key(a) not in self.store._bodies
                  and self.sentences_in_memory(a) is None]
        blobs, ids = self.store._sentence_blobs, self.tables.article_ids
        near = dict.fromkeys(q for p in positions for q in (int(p) - 1, int(p), int(p) + 1)
                             if 0 <= q < self.size and ids[q] == ids[int(p)])
        wanted = [c for c in (int(self.tables.chunk_ids[q]) for q in near) if c not in blobs]

        def read_bodies():
            self._read_bodies(bodies)

        def read_vectors():
            rows = self.store._collection("chunks").query(
                f"chunk_id in [{', '.join(map(str, wanted))}]", output_fields=["chunk_id", "sentence_vectors"],
                consistency_level="Customized", guarantee_timestamp=self.tables.ts)
            blobs.update({int(r["chunk_id"]): base64.b64decode(r["sentence_vectors"]) for r in rows})

        jobs = [job for job, needed in ((read_vectors, wanted), (read_bodies, bodies)) if needed]
        pending = self.store._pool.submit(jobs.pop()) if len(jobs) == 2 else None
        for job in jobs:
            job()
        if pending is not None:
            pending.result()

    def _body_key(self, article_id: str) -> tuple[str, int]:
        head = self.tables.heads.get(article_id)
        return article_id, -1 if head is None else int(head["seq"])

    def _read_bodies(self, article_ids: list[str]) -> None:
        """Bodies of this generation's versions of these articles into the store's cache (one query)."""
        rows = self.store._collection("articles").query(
            f'article_id in [{", ".join(literal(a) for a in article_ids)}] and kind == "body"',
            output_fields=["article_id", "part", "data"], consistency_level="Customized",
            guarantee_timestamp=self.tables.ts)
        heads = self.tables.heads
        self.store._bodies.update({self._body_key(a): record for a, record in _join_parts(rows).items()
                                   if a in heads and _is_version(record, heads[a])})

    def _article_positions(self, article_id: str) -> list[int]:
        if self._by_article is None:
            by_article: dict[str, list[int]] = {}
            for p, a in enumerate(self.tables.article_ids):
                by_article.setdefault(a, []).append(p)
            self._by_article = by_article
        return self._by_article.get(article_id, [])

    def _body(self, article_id: str) -> dict:
        if article_id not in self.tables.heads:
            raise KeyError(f"no article '{article_id}' in the index")
        record = self.store._bodies.get(self._body_key(article_id))
        if record is None:
            self._read_bodies([article_id])
            record = self.store._bodies.get(self._body_key(article_id))
            if record is None:  # a read sees at least this generation: the article changed or went since
                raise SnapshotExpired(f"article '{article_id}' changed after generation {self.generation}")
        return record

    def article(self, article_id: str) -> Article:
        head, body = self.tables.heads.get(article_id), self._body(article_id)
        return Article(article_id, head["title"], body["body"], head["source"], tuple(head["authors"]),
                       head["published_at"], head["url"], head["path"])

    def sentences(self, article_id: str) -> list[Sentence]:
        """From memory where the store kept this version's sentence offsets: each sentence lies inside one
        of the article's chunks (chunks are whole sentences and cover them all), whose texts are in memory;
        else from the article's body."""
        found = self._sentences.get(article_id)
        if found is None:
            found = self._sentences_from_chunks(article_id) or self._body_sentences(article_id)
            if len(self._sentences) > 4096:
                self._sentences.clear()
            self._sentences[article_id] = found
        return found

    def _body_sentences(self, article_id: str) -> list[Sentence]:
        body = self._body(article_id)
        text = body["body"]
        return [Sentence(s, e, text[s:e]) for s, e in body["sentences"]]

    def sentences_in_memory(self, article_id: str) -> list[Sentence] | None:
        found = self._sentences.get(article_id)
        if found is None and (found := self._sentences_from_chunks(article_id)) is not None:
            self._sentences[article_id] = found
        return found

    def _sentences_from_chunks(self, article_id: str) -> list[Sentence] | None:
        head = self.tables.heads.get(article_id)
        kept = self.store._sentence_spans.get(article_id)
        if head is None or kept is None or kept[0] != head["seq"]:
            return None
        spans, texts = kept[1], [None] * len(kept[1])
        for p in self._article_positions(article_id):
            _, start, _, first, last = (int(v) for v in self.tables.table[p])
            chunk_text = self.tables.texts[p]
            for n in range(first, min(last, len(texts) - 1) + 1):
                if texts[n] is None:
                    texts[n] = chunk_text[int(spans[n, 0]) - start:int(spans[n, 1]) - start]
        if any(t is None for t in texts):
            return None
        return [Sentence(int(s), int(e), t) for (s, e), t in zip(spans.tolist(), texts, strict=True)]

    def info(self, article_id: str) -> ArticleInfo:
        """Made once a snapshot: a ranking asks for each of its ~200 passages' articles."""
        found = self._infos.get(article_id)
        if found is None:
            head = self.tables.heads.get(article_id)
            if head is None:
                raise KeyError(f"no article '{article_id}' in the index")
            found = self._infos[article_id] = _info(head)
        return found

    def chunk_texts(self, positions) -> MemoryChunkTexts:
        return MemoryChunkTexts(self.tables, positions)

    def articles(self) -> list[ArticleInfo]:
        return sorted((_info(h) for h in self.tables.heads.values()),
                      key=lambda a: (a.published_at or "", a.title), reverse=True)

    def near_duplicates(self) -> dict[str, str]:
        """The groups a NearDuplicateIndex would build from every head, oldest first (as the embedded store
        does), kept in the store by difference: a new generation compares only its new and changed
        articles (0.6 to 2.5 s a generation at 2,938 RTQA articles when all were compared again)."""
        if self._duplicates is None:
            self._duplicates = self.store.near_duplicate_groups(self.tables.heads)
        return self._duplicates

    def sentence_spread(self, texts: Sequence[str]) -> list[int]:
        """How many articles hold each sentence, counted in this process from the bodies the whole-article
        BM25 reads (the store's newest tables: a later generation's counts may show, as in the embedded
        store)."""
        return self.store._spread.counts(texts)

    def close(self) -> None:
        self._sentences.clear()


def _info(head: dict) -> ArticleInfo:
    return ArticleInfo(head["id"], head["title"], head["source"], head["published_at"], head["url"],
                       tuple(head["authors"]), head["path"], head["n_chunks"])


def filter_expression(filters: Filters, keep_undated: bool = False) -> str:
    """Filters as a Milvus boolean expression over the chunk fields (the same rules as compile_mask)."""
    terms = []
    if filters.sources:
        terms.append(f"source_key in [{', '.join(literal(s.lower()) for s in filters.sources)}]")
    if filters.article_ids:
        terms.append(f"article_id in [{', '.join(literal(a) for a in filters.article_ids)}]")
    if filters.exclude_article_ids:
        terms.append(f"article_id not in [{', '.join(literal(a) for a in filters.exclude_article_ids)}]")
    if filters.date_from or filters.date_to:
        window = [f"date >= {literal(filters.date_from)}" if filters.date_from else "",
                  f"date <= {literal(filters.date_to)}" if filters.date_to else ""]
        in_range = " and ".join(['date != ""', *(w for w in window if w)])
        terms.append(f'(date == "" or ({in_range}))' if keep_undated else f"({in_range})")
    return " and ".join(terms) or "chunk_id >= 0"


# -- schema -------------------------------------------------------------------------------------
def _schemas(name: str, dim: int, server_bm25: bool = False):
    from pymilvus import CollectionSchema, DataType, FieldSchema, Function, FunctionType

    def varchar(field, length=VARCHAR_MAX, **kw):
        return FieldSchema(field, DataType.VARCHAR, max_length=length, **kw)

    def ints(*fields):
        return [FieldSchema(f, DataType.INT64) for f in fields]

    dummy = FieldSchema("dummy", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    fields = [
        FieldSchema("chunk_id", DataType.INT64, is_primary=True), *ints("article_key"), varchar("article_id", 4096),
        *ints("chunk_index", "start", "end", "first_sentence", "last_sentence"), varchar("source", 4096),
        varchar("source_key", 4096), varchar("date", 16), FieldSchema("lead", DataType.BOOL),
        varchar("vector_hash", 128), varchar("text"), varchar("sentence_vectors"),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=dim)]
    functions = []
    if server_bm25:  # "title\ntext", as the client-side index has it, analysed and scored on the server
        fields += [varchar("keyword_text", enable_analyzer=True, analyzer_params=ANALYZER),
                   FieldSchema("sparse", DataType.SPARSE_FLOAT_VECTOR)]
        functions = [Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["keyword_text"],
                              output_field_names=["sparse"])]
    chunks = CollectionSchema(fields, functions=functions, description="article-assistant chunks")
    articles = CollectionSchema([varchar("pk", 8192, is_primary=True), varchar("article_id", 4096), varchar("kind", 8),
                                 *ints("part"), varchar("data"), dummy], description="article-assistant articles")
    meta = CollectionSchema([varchar("key", 256, is_primary=True), varchar("value"), dummy],
                            description="article-assistant manifest and generation")
    return {f"{name}_chunks": (chunks, "vector", HNSW), f"{name}_articles": (articles, "dummy", None),
            f"{name}_meta": (meta, "dummy", None)}


def _create_collections(alias: str, name: str, manifest: Manifest, server_bm25: bool = False) -> None:
    from pymilvus import Collection

    flat = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
    schemas = _schemas(name, manifest.dim, server_bm25)
    for collection_name, (schema, field, index) in schemas.items():
        collection = Collection(collection_name, schema, using=alias, consistency_level="Session")
        collection.create_index(field, index or flat)
        if server_bm25 and field == "vector":
            collection.create_index("sparse", {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"})
    _load(alias, name)
    Collection(f"{name}_meta", using=alias).upsert(
        [{"key": "manifest", "value": json.dumps(asdict(manifest)), "dummy": [1.0, 0.0]}])


def _load(alias: str, name: str) -> None:
    from pymilvus import Collection, utility

    loading = []
    for kind in ("chunks", "articles", "meta"):  # loads run side by side (each takes seconds on 2.3)
        collection_name = f"{name}_{kind}"
        if not utility.has_collection(collection_name, using=alias):
            raise IndexMismatch(f"milvus collection '{collection_name}' is missing; this index is incomplete")
        state = utility.load_state(collection_name, using=alias)
        if "Loaded" not in str(state):
            Collection(collection_name, using=alias).load(_async=True)
            loading.append(collection_name)
    for collection_name in loading:
        utility.wait_for_loading_complete(collection_name, using=alias, timeout=120)


def _read_manifest(alias: str, name: str) -> Manifest:
    from pymilvus import Collection

    rows = Collection(f"{name}_meta", using=alias).query('key == "manifest"', output_fields=["value"],
                                                         consistency_level="Strong")
    if not rows:
        raise IndexMismatch(f"milvus collection '{name}_meta' has no manifest")
    return Manifest(**json.loads(rows[0]["value"]))
