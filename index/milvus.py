"""The store in Milvus: `--index milvus://HOST:PORT/NAME`, so several app processes (on any machines,
with any working folders) share one index and nothing else.

Four collections per NAME, all state in Milvus:
- `NAME_chunks`: one row per chunk: its vector (HNSW, inner product on unit vectors), the fields
  filters need (article id and key, source, lower-cased source, date, lead flag), its offsets, its
  text and its sentences' pooled vectors (float16, base64: the same bits the embedded store keeps).
- `NAME_articles`: each article as JSON rows: a "head" (metadata, hashes, MinHash signature, chunk and
  sentence counts) that every snapshot reads, and a "body" (text, sentence offsets) read on demand;
  either is split into parts when longer than a VARCHAR holds.
- `NAME_meta`: the manifest and the generation counter. A commit writes chunks and articles, flushes,
  then bumps the generation with the timestamp of its last write: the commit point.
Every read of a snapshot passes that timestamp as its guarantee (consistency "Customized"), so it sees
at least its whole generation, and searches cost no Strong-consistency wait; the collections default
to Session consistency, so a writer also reads its own writes at once.

Positions 0..size-1 follow chunk ids, which increase with commit time, as the embedded store's do.
Dense search runs on the server with filters compiled to Milvus expressions (`MilvusMask`); keyword
search is BM25 in this process over the chunk texts read from Milvus (the 2.3 server has no BM25
function), rebuilt when the generation changes. Replicas poll the generation (`latest_generation`).
One writer at a time per NAME (not enforced across machines).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
import time
import uuid
import warnings
from dataclasses import asdict, dataclass
from urllib.parse import urlparse

import numpy as np

from index.articles import Article, Sentence
from index.filters import Filters, compile_mask
from index.keywords import ArticleKeywords, Bm25Index
from index.manifest import IndexMismatch, Manifest
from index.store import ArticleInfo, IndexBusy, IndexNotFound, PreparedArticle, StoredChunk, StoreStats

VARCHAR_MAX = 65535  # bytes in one Milvus VARCHAR
PART_BYTES = 60000  # JSON split into parts below the VARCHAR limit
QUERY_PAGE = 16384  # the most rows one Milvus query returns
HNSW = {"index_type": "HNSW", "metric_type": "IP", "params": {"M": 16, "efConstruction": 200}}
MIN_EF = 128  # search breadth: ef = max(MIN_EF, 2 k); recall@10 measured in eval/bench_milvus.py
POLL_SECONDS = 0.5  # how often latest_generation() asks the server
DUMMY_DIM = 2  # Milvus 2.3 needs a vector field in every collection

# pymilvus 2.6-3.0 marks its ORM API (the one that returns write timestamps) deprecated, to go in 3.1;
# the `milvus` extra pins pymilvus below 3.1.
warnings.filterwarnings("ignore", message=".*ORM-style PyMilvus API")


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
        self.location, self.alias, self.name = location, alias, name
        self.manifest = manifest
        self.server_version = server_version
        self.server_bm25 = False  # 2.5+ has a BM25 function; the keyword search here stays client-side
        self._vectors: dict[str, tuple[np.ndarray, str]] = {}  # embedded in this process, not yet committed
        self._polled = (0.0, -1)
        self._cache: MilvusTables | None = None
        self._cache_lock = threading.Lock()

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
            _create_collections(alias, name, stored)
        else:
            _load(alias, name)
            stored = _read_manifest(alias, name)
            if expected is not None:
                stored.check_compatible(expected, location)
        return cls(location, alias, name, stored, version)

    def _collection(self, kind: str):
        from pymilvus import Collection

        return Collection(f"{self.name}_{kind}", using=self.alias)

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
                self._polled = (now, self._generation("Eventually")[0])
            except Exception:  # noqa: BLE001 - a server hiccup: keep answering from the current snapshot
                self._polled = (now, self._polled[1])
        return self._polled[1]

    def snapshot(self) -> MilvusSnapshot:
        generation, ts = self._generation()
        with self._cache_lock:
            if self._cache is None or self._cache.generation != generation:
                self._cache = MilvusTables.read(self, generation, ts)
            return MilvusSnapshot(self, self._cache)

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
        generation += 1
        value = json.dumps({"generation": generation, "ts": max(stamps, default=0)})
        self._collection("meta").upsert([{"key": "generation", "value": value, "dummy": [1.0, 0.0]}])
        self._vectors.clear()
        self._polled = (0.0, -1)
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
        return rows

    # -- about -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, wait: bool = True, on_wait=None):
        """One ingest or removal at a time in this process (re-entrant). Across processes and machines
        Milvus offers no lock, so one writer per NAME is the deployment's rule (README, Many machines)."""
        if not self._writer_lock.acquire(blocking=False):
            if not wait:
                raise IndexBusy(f"{self.location}: another ingest or removal is running in this process")
            self._writer_lock.acquire()
        try:
            yield
        finally:
            self._writer_lock.release()

    def stats(self) -> StoreStats:
        tables = self.snapshot().tables
        heads = tables.heads
        return StoreStats(len(heads), len(tables.chunk_ids), sum(h["n_sentences"] for h in heads.values()),
                          tables.generation, 0)

    def describe(self) -> str:
        return (f"milvus {self.server_version} at {self.location} (HNSW inner product on the server; "
                "BM25 in this process over the chunk texts in Milvus: this server has no BM25 function; "
                "Session consistency, reads pinned to each generation's commit timestamp)")

    def drop(self) -> None:
        """Delete this NAME's collections (tests, benchmarks)."""
        from pymilvus import utility

        for kind in ("chunks", "articles", "meta"):
            with contextlib.suppress(Exception):
                utility.drop_collection(f"{self.name}_{kind}", using=self.alias)

    def close(self) -> None:
        from pymilvus import connections

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
    """Every row matching expr, paged by primary key (a query returns at most 16384 rows, in key order)."""
    rows: list[dict] = []
    last = None
    while True:
        page_expr = expr if last is None else f"({expr}) and {pk} > {json.dumps(last, ensure_ascii=False)}"
        page = collection.query(page_expr, output_fields=[pk, *fields], limit=QUERY_PAGE,
                                consistency_level="Customized", guarantee_timestamp=ts)
        rows += page
        if len(page) < QUERY_PAGE:
            return rows
        last = max(r[pk] for r in page)


def _read_heads(collection, ts: int) -> dict[str, dict]:
    return _join_parts(_query_all(collection, "pk", 'kind == "head"', ["article_id", "part", "data"], ts))


@dataclass
class MilvusTables:
    """What one generation holds, read once and shared by that generation's snapshots in this process."""

    generation: int
    ts: int
    chunk_ids: np.ndarray
    table: np.ndarray  # per position: chunk_index, start, end, first_sentence, last_sentence
    article_ids: list[str]
    texts: list[str]
    sentence_vectors: list[str]
    heads: dict[str, dict]
    keywords: Bm25Index

    @classmethod
    def read(cls, store: MilvusStore, generation: int, ts: int) -> MilvusTables:
        fields = ["article_id", "chunk_index", "start", "end", "first_sentence", "last_sentence",
                  "text", "sentence_vectors"]
        rows = _query_all(store._collection("chunks"), "chunk_id", "chunk_id >= 0", fields, ts)
        rows.sort(key=lambda r: r["chunk_id"])
        heads = _read_heads(store._collection("articles"), ts)
        rows = [r for r in rows if r["article_id"] in heads]
        table = np.array([[r["chunk_index"], r["start"], r["end"], r["first_sentence"], r["last_sentence"]]
                          for r in rows], dtype=np.int64).reshape(-1, 5)
        texts = [r["text"] for r in rows]
        article_ids = [r["article_id"] for r in rows]
        keywords = Bm25Index.build([f"{heads[a]['title']}\n{t}" for a, t in zip(article_ids, texts, strict=True)])
        return cls(generation, ts, np.array([r["chunk_id"] for r in rows], dtype=np.int64), table, article_ids,
                   texts, [r["sentence_vectors"] for r in rows], heads, keywords)


class MilvusSnapshot:
    """A read view of one generation: positions, metadata and BM25 from memory, dense search on the server."""

    def __init__(self, store: MilvusStore, tables: MilvusTables):
        self.store, self.tables = store, tables
        self.manifest = store.manifest
        self.generation = tables.generation
        heads = tables.heads
        self._position = {int(c): i for i, c in enumerate(tables.chunk_ids)}
        self.chunk_article_keys = np.array([article_key(a) for a in tables.article_ids], dtype=np.int64)
        self.chunk_sources = np.array([heads[a]["source"] for a in tables.article_ids], dtype=object)
        self.chunk_dates = np.array([(heads[a]["published_at"] or "")[:10] for a in tables.article_ids], dtype=str)
        self.lead_chunks = tables.table[:, 0] == 0
        self.newest_date = max((h["published_at"] for h in heads.values() if h["published_at"]), default="")
        self._bodies: dict[str, dict] = {}
        self._duplicates: dict[str, str] | None = None
        self._article_lock = threading.Lock()
        self._article_keywords: ArticleKeywords | None = None

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
            param={"metric_type": "IP", "params": {"ef": max(MIN_EF, 2 * k)}}, limit=k,
            expr=mask.expr if mask is not None else None, output_fields=[],
            consistency_level="Customized", guarantee_timestamp=self.tables.ts)
        hits = [(self._position.get(int(h.id)), float(h.distance)) for h in result[0]]
        hits = [(p, s) for p, s in hits if p is not None]  # rows newer than this snapshot
        if not hits:
            return empty
        positions = np.array([p for p, _ in hits], dtype=np.int64)
        return positions, np.array([s for _, s in hits], dtype=np.float32)

    def search_keyword(self, text, k, mask=None):
        return self.tables.keywords.search(text, k, None if mask is None else mask.array)

    def search_articles(self, text, k, mask=None):
        """BM25 over whole articles, built on first use from this generation's chunk texts."""
        with self._article_lock:
            if self._article_keywords is None:
                texts: dict[str, list[str]] = {}
                for article_id, chunk_text in zip(self.tables.article_ids, self.tables.texts, strict=True):
                    texts.setdefault(article_id, []).append(chunk_text)
                ids = list(texts)
                self._article_keywords = ArticleKeywords.build(
                    [article_key(a) for a in ids], [self.tables.heads[a]["title"] for a in ids],
                    [" ".join(texts[a]) for a in ids])
        allowed = None if mask is None else np.unique(self.chunk_article_keys[mask.array])
        return self._article_keywords.search(text, k, allowed)

    # -- reading ---------------------------------------------------------------------------------
    def chunk(self, position: int) -> StoredChunk:
        t = self.tables
        idx, start, end, first, last = (int(v) for v in t.table[position])
        return StoredChunk(int(t.chunk_ids[position]), int(position), t.article_ids[position], idx, start, end,
                           first, last, t.texts[position])

    def sentence_vectors(self, position: int) -> np.ndarray:
        blob = base64.b64decode(self.tables.sentence_vectors[position])
        return np.frombuffer(blob, dtype=np.float16).reshape(-1, self.manifest.dim).astype(np.float32)

    def _body(self, article_id: str) -> dict:
        if article_id not in self.tables.heads:
            raise KeyError(f"no article '{article_id}' in the index")
        if article_id not in self._bodies:
            if len(self._bodies) > 2048:
                self._bodies.clear()
            rows = self.store._collection("articles").query(
                f'article_id == {literal(article_id)} and kind == "body"', output_fields=["article_id", "part", "data"],
                consistency_level="Customized", guarantee_timestamp=self.tables.ts)
            record = _join_parts(rows).get(article_id)
            if record is None:
                raise KeyError(f"article '{article_id}' was removed from the index since this snapshot")
            self._bodies[article_id] = record
        return self._bodies[article_id]

    def article(self, article_id: str) -> Article:
        head, body = self.tables.heads.get(article_id), self._body(article_id)
        return Article(article_id, head["title"], body["body"], head["source"], tuple(head["authors"]),
                       head["published_at"], head["url"], head["path"])

    def sentences(self, article_id: str) -> list[Sentence]:
        body = self._body(article_id)
        text = body["body"]
        return [Sentence(s, e, text[s:e]) for s, e in body["sentences"]]

    def info(self, article_id: str) -> ArticleInfo:
        head = self.tables.heads.get(article_id)
        if head is None:
            raise KeyError(f"no article '{article_id}' in the index")
        return _info(head)

    def articles(self) -> list[ArticleInfo]:
        return sorted((_info(h) for h in self.tables.heads.values()),
                      key=lambda a: (a.published_at or "", a.title), reverse=True)

    def near_duplicates(self) -> dict[str, str]:
        if self._duplicates is None:
            from index.near_duplicates import NearDuplicateIndex, from_bytes

            index = NearDuplicateIndex()
            for head in sorted(self.tables.heads.values(), key=lambda h: (h["published_at"] or "9999", h["seq"])):
                index.add_signature(head["id"], from_bytes(base64.b64decode(head["minhash"])))
            self._duplicates = {m: g[0] for g in index.groups() for m in g}
        return self._duplicates

    def close(self) -> None:
        self._bodies.clear()


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
def _schemas(name: str, dim: int):
    from pymilvus import CollectionSchema, DataType, FieldSchema

    def varchar(field, length=VARCHAR_MAX, **kw):
        return FieldSchema(field, DataType.VARCHAR, max_length=length, **kw)

    def ints(*fields):
        return [FieldSchema(f, DataType.INT64) for f in fields]

    dummy = FieldSchema("dummy", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    chunks = CollectionSchema([
        FieldSchema("chunk_id", DataType.INT64, is_primary=True), *ints("article_key"), varchar("article_id", 4096),
        *ints("chunk_index", "start", "end", "first_sentence", "last_sentence"), varchar("source", 4096),
        varchar("source_key", 4096), varchar("date", 16), FieldSchema("lead", DataType.BOOL),
        varchar("vector_hash", 128), varchar("text"), varchar("sentence_vectors"),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=dim)], description="article-assistant chunks")
    articles = CollectionSchema([varchar("pk", 8192, is_primary=True), varchar("article_id", 4096), varchar("kind", 8),
                                 *ints("part"), varchar("data"), dummy], description="article-assistant articles")
    meta = CollectionSchema([varchar("key", 256, is_primary=True), varchar("value"), dummy],
                            description="article-assistant manifest and generation")
    return {f"{name}_chunks": (chunks, "vector", HNSW), f"{name}_articles": (articles, "dummy", None),
            f"{name}_meta": (meta, "dummy", None)}


def _create_collections(alias: str, name: str, manifest: Manifest) -> None:
    from pymilvus import Collection

    flat = {"index_type": "FLAT", "metric_type": "L2", "params": {}}
    schemas = _schemas(name, manifest.dim)
    for collection_name, (schema, field, index) in schemas.items():
        collection = Collection(collection_name, schema, using=alias, consistency_level="Session")
        collection.create_index(field, index or flat)
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
