"""Question → ranked passages: dense (FAISS), keyword (BM25) or both fused, with filters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.fuse import article_rank_fusion, merge_hits
from assistant.results import Filters, Passage
from index.store import Snapshot

MODES = ("dense", "keyword", "hybrid")


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]  # fused order, best first, before grouping
    query_vector: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Prior:
    """Extra ranked lists restricted to a date window, fused with weight: passages inside the window
    rank higher without anything outside it being dropped."""

    date_from: str | None
    date_to: str | None
    weight: float


def retrieve(snapshot: Snapshot, encoder, query: str, *, mode: str = "hybrid", depth: int = 100,
             filters: Filters | None = None, query_vector: np.ndarray | None = None,
             priors: tuple[Prior, ...] = (), lead_lists: bool = False, article_weight: float = 0.0) -> Retrieval:
    """Top `depth` passages for the query, fused by reciprocal rank over articles (fuse.py). Each prior
    adds the top `depth` hits inside its window as extra lists (one search per side with the window as a
    filter inside it, see _window_hits) and multiplies the scores inside its window. With
    `lead_lists`, each list also votes for articles a second time with just its lead chunks (headline
    and first sentences, where news states its story): an article whose opening matches is about the
    question rather than mentioning it in passing. That helps questions about a story and hurts
    questions about a detail deep in an article, so the engine asks for it only for time-anchored
    questions (see engine.AskSettings.lead_votes), and it counts only where a prior's window leaves
    some passages out: on an undated corpus time-awareness changes nothing. With `article_weight`, keyword
    and hybrid modes add one more list: BM25 over whole articles, with that weight."""
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode '{mode}' (choose {', '.join(MODES)})")
    timings: dict[str, float] = {}
    mask = snapshot.mask(filters)
    t = time.perf_counter()
    if query_vector is None:
        query_vector = encoder.encode([query])[0]
    timings["embed_query"] = time.perf_counter() - t

    dense_pos = keyword_pos = np.zeros(0, dtype=np.int64)
    dense_scores = keyword_scores = np.zeros(0, dtype=np.float32)
    pending_dense = None
    if mode in ("dense", "hybrid"):
        t = time.perf_counter()
        pending_dense = _start_dense(snapshot, query_vector, depth, mask)
        timings["dense_search"] = time.perf_counter() - t
    t = time.perf_counter()
    pending_windows = [_start_window(snapshot, query if mode != "dense" else "",
                                     query_vector if mode != "keyword" else None, depth, filters, mask, p)
                       for p in priors]
    timings["time_prior"] = time.perf_counter() - t
    if mode in ("keyword", "hybrid"):
        t = time.perf_counter()
        keyword_pos, keyword_scores = snapshot.search_keyword(query, depth, mask)
        timings["keyword_search"] = time.perf_counter() - t

    articles = []
    if article_weight and mode in ("keyword", "hybrid"):
        t = time.perf_counter()
        articles = [snapshot.search_articles(query, depth, mask)[0]]
        timings["article_search"] = time.perf_counter() - t

    t = time.perf_counter()
    windows = [finish() for finish in pending_windows]
    timings["time_prior"] += time.perf_counter() - t
    if pending_dense is not None:
        t = time.perf_counter()
        dense_pos, dense_scores = pending_dense()
        timings["dense_search"] += time.perf_counter() - t

    t = time.perf_counter()
    rankings = []
    if mode in ("dense", "hybrid"):
        rankings.append(merge_hits([(dense_pos, dense_scores)] + [w.dense for w in windows]))
    if mode in ("keyword", "hybrid"):
        rankings.append(merge_hits([(keyword_pos, keyword_scores)] + [w.keyword for w in windows]))
    dated_prior = any(_leaves_out(snapshot, hits, mask) for hits in windows)
    leads = [ranking[snapshot.lead_chunks[ranking]] for ranking in rankings] if lead_lists and dated_prior else []
    boost = window_boost(np.concatenate(rankings), windows) if windows and rankings else None
    ranked = article_rank_fusion(rankings, snapshot.chunk_article_keys, boost, article_votes=leads,
                                 article_rankings=articles, article_weight=article_weight)
    dense_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(dense_pos, dense_scores, strict=True))}
    keyword_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(keyword_pos, keyword_scores, strict=True))}
    texts = _texts(snapshot, [pos for pos, _ in ranked[:depth]])
    passages = [_passage(snapshot, pos, score, dense_info.get(pos), keyword_info.get(pos), texts)
                for pos, score in ranked[:depth]]
    timings["fusion"] = time.perf_counter() - t
    return Retrieval(passages, np.asarray(query_vector, dtype=np.float32), timings)


def _start_dense(snapshot, vector: np.ndarray, depth: int, mask) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The dense search, started: where the snapshot can send it off (`start_dense`, Milvus: a server
    round trip of ~5 ms) it runs while this process searches keywords and the time priors' windows;
    elsewhere it runs now (FAISS in process). Returns the call that gives its hits."""
    if (start := getattr(snapshot, "start_dense", None)) is not None:
        return start(vector, depth, mask)
    hits = snapshot.search_dense(vector, depth, mask)
    return lambda: hits


@dataclass(frozen=True)
class _WindowHits:
    dense: tuple[np.ndarray, np.ndarray]  # (positions, scores) of the same search restricted to the window
    keyword: tuple[np.ndarray, np.ndarray]
    inside: np.ndarray  # booleans over positions: in the window (or undated)
    weight: float


def _start_window(snapshot, query: str, vector: np.ndarray | None, depth: int, filters, mask,
                  prior: Prior) -> Callable[[], _WindowHits]:
    """A time prior's window searches, started: a snapshot with `start_window` (Milvus) sends its dense
    search to the server now, beside the unwindowed one, and the returned call runs the keyword side and
    waits; elsewhere the searches run now."""
    if (start := getattr(snapshot, "start_window", None)) is not None:
        finish = start(query, vector, depth, mask, prior.date_from, prior.date_to)
        return lambda: _WindowHits(*finish(), prior.weight)
    hits = _window_hits(snapshot, query, vector, depth, filters, mask, prior)
    return lambda: hits


def _window_hits(snapshot, query: str, vector: np.ndarray | None, depth: int, filters, mask,
                 prior: Prior) -> _WindowHits:
    """The top `depth` hits of each search inside the window, so in-window passages beyond the global
    depth still become candidates. A snapshot with `search_window` (the embedded store) runs each search
    once with the window as a filter inside it, at the normal depth (issue 16: a time-aware question at
    1M chunks had cost 5.5x an undated one as the in-window part of 4x deeper searches); another backend
    runs its masked searches (a Milvus expression filters server-side)."""
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    native = getattr(snapshot, "search_window", None)
    if native is not None:
        dense, keyword, inside = native(query, vector, depth, mask, prior.date_from, prior.date_to)
        return _WindowHits(dense, keyword, inside, prior.weight)
    window = (filters or Filters()).within(prior.date_from, prior.date_to)
    window_mask = snapshot.intersect(snapshot.mask(window, keep_undated=True), mask)
    dense = empty if vector is None else snapshot.search_dense(vector, depth, window_mask)
    keyword = snapshot.search_keyword(query, depth, window_mask) if query else empty
    return _WindowHits(dense, keyword, snapshot.allowed(window_mask), prior.weight)


def _leaves_out(snapshot, hits: _WindowHits, mask) -> bool:
    """Whether the window excludes any passage the filters allow (never, on an undated corpus)."""
    if mask is None:
        return not bool(hits.inside.all())
    return bool((snapshot.allowed(mask) & ~hits.inside).any())


def window_boost(positions: np.ndarray, windows: list[_WindowHits]) -> dict[int, float]:
    """Score multiplier of each candidate position: (1 + weight) for each window the passage lies in
    (undated passages count as inside, so a prior never penalises them). Only the candidates: an array
    over every position cost milliseconds a question at 1M chunks."""
    positions = np.unique(np.asarray(positions, dtype=np.int64))
    boost = np.ones(len(positions), dtype=np.float64)
    for hits in windows:
        boost *= np.where(hits.inside[positions], 1.0 + hits.weight, 1.0)
    return dict(zip(positions.tolist(), boost.tolist(), strict=True))


def _texts(snapshot, positions: list[int]):
    """The ranking's texts to read when first used, where the snapshot can (the embedded store's
    chunk_texts: an answer reads the few passages it shows, issue 16); else None, and the bodies are read
    now, in one read where the snapshot batches them."""
    if (lazy := getattr(snapshot, "chunk_texts", None)) is not None:
        return lazy(positions)
    if (prefetch := getattr(snapshot, "prefetch_bodies", None)) is not None:
        prefetch(positions)
    return None


def _passage(snapshot, position: int, score: float, dense, keyword, texts=None) -> Passage:
    if texts is not None:
        chunk_id, article_id, start, end = texts.spans[position]
        text = texts
    else:
        chunk = snapshot.chunk(position)
        chunk_id, article_id, start, end, text = chunk.id, chunk.article_id, chunk.start, chunk.end, chunk.text
    info = snapshot.info(article_id)
    return Passage(
        position=position, chunk_id=chunk_id, article_id=article_id, title=info.title,
        source=info.source, published_at=info.published_at, url=info.url, text=text,
        start=start, end=end, score=score,
        dense_score=dense[0] if dense else None, keyword_score=keyword[0] if keyword else None,
        dense_rank=dense[1] + 1 if dense else None, keyword_rank=keyword[1] + 1 if keyword else None,
    )
