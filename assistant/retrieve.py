"""Question → ranked passages: dense (FAISS), keyword (BM25) or both fused, with filters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from assistant.fuse import reciprocal_rank_fusion
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

    lists, weights = [], []
    if mode in ("dense", "hybrid"):
        lists.append(dense_pos)
        weights.append(1.0)
    if mode in ("keyword", "hybrid"):
        lists.append(keyword_pos)
        weights.append(1.0)
    t = time.perf_counter()
    for prior in priors:
        window = Filters(filters.sources if filters else (), filters.article_ids if filters else (),
                         prior.date_from, prior.date_to)
        window_mask = filter_mask(snapshot, window, keep_undated=True)
        if mask is not None:
            window_mask &= mask
        if mode in ("dense", "hybrid"):
            lists.append(snapshot.search_dense(query_vector, depth, window_mask)[0])
            weights.append(prior.weight)
        if mode in ("keyword", "hybrid"):
            lists.append(snapshot.search_keyword(query, depth, window_mask)[0])
            weights.append(prior.weight)
    timings["time_prior"] = time.perf_counter() - t

    t = time.perf_counter()
    if len(lists) > 1:
        ranked = reciprocal_rank_fusion(lists, weights)
    else:
        pos, sc = (dense_pos, dense_scores) if mode == "dense" else (keyword_pos, keyword_scores)
        ranked = [(int(p), float(s)) for p, s in zip(pos, sc, strict=True)]
    dense_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(dense_pos, dense_scores, strict=True))}
    keyword_info = {int(p): (float(s), r) for r, (p, s) in enumerate(zip(keyword_pos, keyword_scores, strict=True))}
    passages = [_passage(snapshot, pos, score, dense_info.get(pos), keyword_info.get(pos))
                for pos, score in ranked[:depth]]
    timings["fusion"] = time.perf_counter() - t
    return Retrieval(passages, np.asarray(query_vector, dtype=np.float32), timings)


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
