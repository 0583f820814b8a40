"""Question → ranked passages: dense (FAISS), keyword (BM25) or both fused, with filters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from assistant.fuse import article_rank_fusion, merge_hits
from assistant.results import Filters, Passage
from index.store import Snapshot

MODES = ("dense", "keyword", "hybrid")
# With date windows (priors), each search runs once, this many times deeper, and a window's list is the
# in-window part of it: a time-aware question costs about one search, not one per window (issue 16).
WINDOW_DEPTH = 4


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
    adds the in-window part of the same searches (run once, WINDOW_DEPTH times deeper, when there are
    priors) as extra lists and multiplies the scores inside its window. With
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
    deep = depth * WINDOW_DEPTH if priors else depth
    if mode in ("dense", "hybrid"):
        t = time.perf_counter()
        dense_pos, dense_scores = snapshot.search_dense(query_vector, deep, mask)
        timings["dense_search"] = time.perf_counter() - t
    if mode in ("keyword", "hybrid"):
        t = time.perf_counter()
        keyword_pos, keyword_scores = snapshot.search_keyword(query, deep, mask)
        timings["keyword_search"] = time.perf_counter() - t

    articles = []
    if article_weight and mode in ("keyword", "hybrid"):
        t = time.perf_counter()
        articles = [snapshot.search_articles(query, depth, mask)[0]]
        timings["article_search"] = time.perf_counter() - t

    t = time.perf_counter()
    windows = [_window_hits(snapshot, (dense_pos, dense_scores), (keyword_pos, keyword_scores), depth, filters,
                            mask, p) for p in priors]
    dense_pos, dense_scores = dense_pos[:depth], dense_scores[:depth]
    keyword_pos, keyword_scores = keyword_pos[:depth], keyword_scores[:depth]
    timings["time_prior"] = time.perf_counter() - t

    t = time.perf_counter()
    rankings = []
    if mode in ("dense", "hybrid"):
        rankings.append(merge_hits([(dense_pos, dense_scores)] + [w.dense for w in windows]))
    if mode in ("keyword", "hybrid"):
        rankings.append(merge_hits([(keyword_pos, keyword_scores)] + [w.keyword for w in windows]))
    dated_prior = any(_leaves_out(snapshot, hits, mask) for hits in windows)
    leads = [ranking[snapshot.lead_chunks[ranking]] for ranking in rankings] if lead_lists and dated_prior else []
    boost = window_boost(snapshot.size, windows) if windows else None
    ranked = article_rank_fusion(rankings, snapshot.chunk_article_keys, boost, article_votes=leads,
                                 article_rankings=articles, article_weight=article_weight)
    dense_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(dense_pos, dense_scores, strict=True))}
    keyword_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(keyword_pos, keyword_scores, strict=True))}
    passages = [_passage(snapshot, pos, score, dense_info.get(pos), keyword_info.get(pos))
                for pos, score in ranked[:depth]]
    timings["fusion"] = time.perf_counter() - t
    return Retrieval(passages, np.asarray(query_vector, dtype=np.float32), timings)


@dataclass(frozen=True)
class _WindowHits:
    dense: tuple[np.ndarray, np.ndarray]  # (positions, scores) of the same search restricted to the window
    keyword: tuple[np.ndarray, np.ndarray]
    inside: np.ndarray  # booleans over positions: in the window (or undated)
    weight: float


def _window_hits(snapshot, dense, keyword, depth, filters, mask, prior: Prior) -> _WindowHits:
    """The in-window part of the (deeper) searches, so in-window passages beyond the global depth still
    become candidates without searching again."""
    window = (filters or Filters()).within(prior.date_from, prior.date_to)
    inside = snapshot.allowed(snapshot.intersect(snapshot.mask(window, keep_undated=True), mask))

    def within(hits):
        keep = inside[hits[0]]
        return hits[0][keep][:depth], hits[1][keep][:depth]

    return _WindowHits(within(dense), within(keyword), inside, prior.weight)


def _leaves_out(snapshot, hits: _WindowHits, mask) -> bool:
    """Whether the window excludes any passage the filters allow (never, on an undated corpus)."""
    return bool((snapshot.allowed(mask) & ~hits.inside).any())


def window_boost(size: int, windows: list[_WindowHits]) -> np.ndarray:
    """Score multiplier per position: (1 + weight) for each window the passage lies in (undated passages
    count as inside, so a prior never penalises them)."""
    boost = np.ones(size, dtype=np.float64)
    for hits in windows:
        boost *= np.where(hits.inside, 1.0 + hits.weight, 1.0)
    return boost


def _passage(snapshot, position: int, score: float, dense, keyword) -> Passage:
    chunk = snapshot.chunk(position)
    info = snapshot.info(chunk.article_id)
    return Passage(
        position=position, chunk_id=chunk.id, article_id=chunk.article_id, title=info.title,
        source=info.source, published_at=info.published_at, url=info.url, text=chunk.text,
        start=chunk.start, end=chunk.end, score=score,
        dense_score=dense[0] if dense else None, keyword_score=keyword[0] if keyword else None,
        dense_rank=dense[1] + 1 if dense else None, keyword_rank=keyword[1] + 1 if keyword else None,
    )
