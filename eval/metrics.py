"""Retrieval metrics judged per article, with the same definitions as trec_eval / ir-measures.

Computed here rather than through ir-measures so that the order the engine returned (ties already
broken by article id) is the order scored; ir-measures re-sorts by score and breaks ties its own way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

CUTOFFS = (1, 3, 5, 10, 20)
Run = Mapping[str, Sequence[tuple[str, float]]]  # question id -> [(article id, score)], best first
Qrels = Mapping[str, Mapping[str, int]]  # question id -> {article id: relevance}
METRIC_NAMES = ("ndcg@10", "mrr@10", *(f"recall@{k}" for k in CUTOFFS), *(f"hit@{k}" for k in CUTOFFS))


def rank(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """Best first; equal scores ordered by article id so every run is reproducible."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def query_metrics(ranked: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    """All metrics of METRIC_NAMES for one question; a repeated article counts at its first position only."""
    ranked = list(dict.fromkeys(ranked))
    relevant = {doc for doc, rel in judged.items() if rel > 0}
    found_at = [i for i, doc in enumerate(ranked) if doc in relevant]  # 0-based ranks of relevant articles
    out: dict[str, float] = {"ndcg@10": ndcg_at_k(ranked, judged, 10)}
    out["mrr@10"] = 1.0 / (found_at[0] + 1) if found_at and found_at[0] < 10 else 0.0
    for k in CUTOFFS:
        hits = sum(1 for i in found_at if i < k)
        out[f"recall@{k}"] = hits / len(relevant) if relevant else 0.0
        out[f"hit@{k}"] = 1.0 if hits else 0.0
    return out


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """Linear gain (the relevance grade itself) and log2 discount, ideal ranking from all judged articles."""
    gains = [max(judged.get(doc, 0), 0) for doc in ranked[:k]]
    dcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(gains))
    ideal = sorted((rel for rel in judged.values() if rel > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def evaluate_run(run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
    """Per-question metrics for every question with a relevant article; one missing from the run scores 0."""
    return {
        qid: query_metrics([doc for doc, _ in run.get(qid, ())], judged)
        for qid, judged in qrels.items()
        if any(rel > 0 for rel in judged.values())
    }


def evidence_recall_at_k(passages: Sequence[str], evidence: str | Iterable[str], k: int) -> float:
    """1.0 when an evidence sentence lies inside one of the top-k passages (whitespace-normalised), else 0.0.

    The strict check behind article-level Hit@k: the right article is not enough, the retrieved text
    must contain the supporting sentence. Several sentences (one per gold article): any one counts.
    """
    sentences = [_squash(s) for s in ([evidence] if isinstance(evidence, str) else evidence)]
    sentences = [s for s in sentences if s]
    top = [_squash(p) for p in passages[:k]]
    return 1.0 if any(s in p for s in sentences for p in top) else 0.0


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def aggregate(per_query: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """Mean of every numeric field over the rows that have it (booleans count as 0/1, other fields are skipped)."""
    columns: dict[str, list[float]] = {}
    for row in per_query:
        for name, value in row.items():
            if isinstance(value, (int, float, np.number)) and not (isinstance(value, float) and math.isnan(value)):
                columns.setdefault(name, []).append(float(value))
    return {name: float(np.mean(values)) for name, values in columns.items()}


def percentile(values: Iterable[float], q: float) -> float:
    """q-th percentile (linear interpolation, numpy's default); NaN when there are no values."""
    data = np.asarray(list(values), dtype=float)
    return float(np.percentile(data, q)) if data.size else math.nan


def latency_summary(seconds: Iterable[float], prefix: str = "latency") -> dict[str, float]:
    """p50 / p95 / mean of per-question latencies, in milliseconds, named like `latency_p95_ms`."""
    data = np.asarray(list(seconds), dtype=float) * 1000.0
    if not data.size:
        return {f"{prefix}_p50_ms": math.nan, f"{prefix}_p95_ms": math.nan, f"{prefix}_mean_ms": math.nan}
    p50, p95 = np.percentile(data, [50, 95])
    return {f"{prefix}_p50_ms": float(p50), f"{prefix}_p95_ms": float(p95), f"{prefix}_mean_ms": float(data.mean())}
