"""Question → ranked passages: dense (FAISS), keyword (BM25) or both fused, with filters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from assistant.fuse import RRF_K, reciprocal_rank_fusion
from assistant.results import Filters, Passage

MODES = ("dense", "keyword", "hybrid")


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]  # fused order, best first, before grouping
    query_vector: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


def filter_mask(snapshot, filters: Filters | None, keep_undated: bool = False) -> np.ndarray | None:
    """Boolean mask over snapshot positions, or None when nothing is filtered. A date range the user
    sets excludes undated articles; a time prior (keep_undated) never penalises them."""
    if filters is None or filters.is_empty():
        return None
    mask = np.ones(snapshot.size, dtype=bool)
    if filters.sources:
        wanted = {s.lower() for s in filters.sources}
        mask &= np.array([s.lower() in wanted for s in snapshot.chunk_sources], dtype=bool)
    if filters.article_ids:
        mask &= snapshot.positions_of_articles(set(filters.article_ids))
    if filters.date_from or filters.date_to:
        low, high = filters.date_from or "", filters.date_to or "9999"
        mask &= np.array([(keep_undated and d == "") or (d != "" and low <= d <= high) for d in snapshot.chunk_dates],
                         dtype=bool)
    return mask


@dataclass(frozen=True)
class Prior:
    """Extra ranked lists restricted to a date window, fused with weight: passages inside the window
    rank higher without anything outside it being dropped."""

    date_from: str | None
    date_to: str | None
    weight: float


def retrieve(snapshot, encoder, query: str, mode: str = "hybrid", depth: int = 100,
             filters: Filters | None = None, query_vector: np.ndarray | None = None,
             priors: tuple[Prior, ...] = ()) -> Retrieval:
    """Top `depth` passages for the query. Hybrid fuses both lists by reciprocal rank; each prior adds
    the same searches restricted to its date window, with its weight."""
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode '{mode}' (choose {', '.join(MODES)})")
    timings: dict[str, float] = {}
    mask = filter_mask(snapshot, filters)
    t = time.perf_counter()
    if query_vector is None:
        query_vector = encoder.encode([query])[0]
    timings["embed_query"] = time.perf_counter() - t

    dense_pos = dense_scores = keyword_pos = keyword_scores = np.zeros(0)
    if mode in ("dense", "hybrid"):
        t = time.perf_counter()
        dense_pos, dense_scores = snapshot.search_dense(query_vector, depth, mask)
        timings["dense_search"] = time.perf_counter() - t
    if mode in ("keyword", "hybrid"):
        t = time.perf_counter()
        keyword_pos, keyword_scores = snapshot.search_keyword(query, depth, mask)
        timings["keyword_search"] = time.perf_counter() - t

    t = time.perf_counter()
    base: list[np.ndarray] = []
    if mode in ("dense", "hybrid"):
        base.append(dense_pos)
    if mode in ("keyword", "hybrid"):
        base.append(keyword_pos)
    windows = [_window_search(snapshot, query, query_vector, mode, depth, filters, mask, p) for p in priors]
    timings["time_prior"] = time.perf_counter() - t

    t = time.perf_counter()
    if priors:
        ranked = prior_fusion(base, windows, depth)
    elif len(base) > 1:
        ranked = reciprocal_rank_fusion(base)
    else:
        pos, sc = (dense_pos, dense_scores) if mode == "dense" else (keyword_pos, keyword_scores)
        ranked = [(int(p), float(s)) for p, s in zip(pos, sc, strict=True)]
    dense_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(dense_pos, dense_scores, strict=True))}
    keyword_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(keyword_pos, keyword_scores, strict=True))}
    passages = [_passage(snapshot, pos, score, dense_info.get(pos), keyword_info.get(pos))
                for pos, score in ranked[:depth]]
    timings["fusion"] = time.perf_counter() - t
    return Retrieval(passages, np.asarray(query_vector, dtype=np.float32), timings)


@dataclass(frozen=True)
class _WindowHits:
    lists: list[np.ndarray]  # the same searches as the base lists, restricted to the window
    inside: np.ndarray  # mask over positions: in the window (or undated)
    weight: float


def _window_search(snapshot, query, query_vector, mode, depth, filters, mask, prior: Prior) -> _WindowHits:
    window = Filters(filters.sources if filters else (), filters.article_ids if filters else (),
                     prior.date_from, prior.date_to)
    inside = filter_mask(snapshot, window, keep_undated=True)
    if mask is not None:
        inside &= mask
    lists = []
    if mode in ("dense", "hybrid"):
        lists.append(snapshot.search_dense(query_vector, depth, inside)[0])
    if mode in ("keyword", "hybrid"):
        lists.append(snapshot.search_keyword(query, depth, inside)[0])
    return _WindowHits(lists, inside, prior.weight)


def prior_fusion(base: list[np.ndarray], windows: list[_WindowHits], depth: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of the base lists, each passage's score multiplied by (1 + weight) for each
    window it lies in. A passage the window search found beyond the base lists' depth counts as ranked
    just after them, so the window adds recall without letting an irrelevant in-window article jump ahead."""
    scores: dict[int, float] = {}
    for list_index, ranking in enumerate(base):
        ranks = {int(p): r for r, p in enumerate(ranking)}
        for hits in windows:
            for r, p in enumerate(hits.lists[list_index]):
                ranks.setdefault(int(p), depth + r)
        for p, r in ranks.items():
            scores[p] = scores.get(p, 0.0) + 1.0 / (RRF_K + r + 1)
    for p in scores:
        for hits in windows:
            if hits.inside[p]:
                scores[p] *= 1.0 + hits.weight
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


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
