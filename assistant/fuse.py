"""Ranked lists from dense and keyword search → one ranking (reciprocal rank fusion)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60  # the constant of Cormack et al. (2009); large k flattens the head of each list


def reciprocal_rank_fusion(rankings: Sequence[np.ndarray], weights: Sequence[float] | None = None,
                           k: int = RRF_K) -> list[tuple[int, float]]:
    """(item, fused score) best first. Each ranking lists items best first; ties break by item id."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[int(item)] = scores.get(int(item), 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
