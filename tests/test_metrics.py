"""Every metric is checked against ir-measures (pytrec_eval), the reference implementation of trec_eval."""

from __future__ import annotations

import math
import random

import ir_measures
import pytest
from ir_measures import RR, R, Success, nDCG

from eval.metrics import (
    CUTOFFS,
    METRIC_NAMES,
    aggregate,
    evaluate_run,
    evidence_recall_at_k,
    latency_summary,
    percentile,
    query_metrics,
    rank,
)

REFERENCE = {"ndcg@10": nDCG @ 10, "mrr@10": RR @ 10}
REFERENCE |= {f"recall@{k}": R @ k for k in CUTOFFS} | {f"hit@{k}": Success @ k for k in CUTOFFS}


def reference(run, qrels) -> dict[str, dict[str, float]]:
    """ir-measures re-sorts by score, so give it strictly decreasing scores that keep our order exactly."""
    strict = {qid: {doc: float(len(ranked) - i) for i, (doc, _) in enumerate(ranked)} for qid, ranked in run.items()}
    names = {str(measure): name for name, measure in REFERENCE.items()}
    out: dict[str, dict[str, float]] = {}
    for metric in ir_measures.iter_calc(list(REFERENCE.values()), qrels, strict):
        out.setdefault(metric.query_id, {})[names[str(metric.measure)]] = metric.value
    return out


def assert_matches(run, qrels) -> None:
    ours = evaluate_run(run, qrels)
    theirs = reference(run, qrels)
    assert theirs, "reference computed nothing"
    for qid, expected in theirs.items():
        assert set(expected) == set(METRIC_NAMES)
        for name, value in expected.items():
            assert ours[qid][name] == pytest.approx(value, abs=1e-9), (qid, name)


QRELS = {
    "single": {"a": 1},
    "multi": {"a": 1, "b": 1, "c": 1, "x": 0},  # judged non-relevant x must not count
    "graded": {"a": 3, "b": 2, "c": 1, "d": 1},
    "missed": {"z": 1, "y": 2},
    "deep": {"d15": 1, "d25": 1},
}
RUN = {
    "single": [("b", 0.9), ("a", 0.8), ("c", 0.1)],
    "multi": [("x", 0.9), ("c", 0.8), ("q", 0.7), ("a", 0.6), ("b", 0.2)],
    "graded": [("c", 5.0), ("e", 4.0), ("a", 3.0), ("d", 2.0), ("b", 1.0)],
    "missed": [("a", 1.0), ("b", 0.5)],
    "deep": [(f"d{i:02d}", 1.0 - i / 100) for i in range(30)],
}


def test_hand_made_runs_match_ir_measures():
    assert_matches(RUN, QRELS)


def test_known_values():
    ours = evaluate_run(RUN, QRELS)
    assert ours["single"]["mrr@10"] == 0.5 and ours["single"]["hit@1"] == 0.0 and ours["single"]["hit@3"] == 1.0
    assert ours["multi"]["recall@3"] == pytest.approx(1 / 3) and ours["multi"]["recall@5"] == 1.0
    assert all(v == 0.0 for v in ours["missed"].values())
    assert ours["deep"]["recall@20"] == 0.5 and ours["deep"]["mrr@10"] == 0.0 and ours["deep"]["hit@20"] == 1.0


def test_ties_are_broken_by_article_id_and_scored_in_that_order():
    scores = {"b": 1.0, "a": 1.0, "c": 2.0, "d": 0.5}
    ranked = rank(scores)
    assert [doc for doc, _ in ranked] == ["c", "a", "b", "d"]
    qrels = {"q": {"b": 1, "a": 2}}
    assert_matches({"q": ranked}, qrels)
    assert evaluate_run({"q": ranked}, qrels)["q"]["mrr@10"] == 0.5


def test_random_runs_with_ties_and_graded_relevance_match_ir_measures():
    rng = random.Random(7)
    docs = [f"doc{i}" for i in range(40)]
    qrels, run = {}, {}
    for q in range(60):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, 6))
        qrels[qid] = {doc: rng.choice([0, 1, 1, 2, 3]) for doc in judged}
        qrels[qid][judged[0]] = max(qrels[qid][judged[0]], 1)
        run[qid] = rank({doc: float(rng.randint(0, 8)) for doc in rng.sample(docs, rng.randint(0, 30))})
    assert_matches({qid: ranked for qid, ranked in run.items() if ranked}, qrels)


def test_question_missing_from_run_scores_zero_and_unjudgeable_questions_are_skipped():
    result = evaluate_run({}, {"q": {"a": 1}, "none-relevant": {"a": 0}})
    assert set(result) == {"q"}
    assert all(value == 0.0 for value in result["q"].values())


def test_repeated_article_counts_once():
    assert query_metrics(["a", "a", "b"], {"b": 1})["mrr@10"] == 0.5


def test_evidence_recall_whitespace_normalised_and_cut_at_k():
    passages = ["Nothing here.", "The  vote was\n held on   Tuesday, officials said."]
    assert evidence_recall_at_k(passages, "The vote was held on Tuesday,", 2) == 1.0
    assert evidence_recall_at_k(passages, "The vote was held on Tuesday,", 1) == 0.0
    assert evidence_recall_at_k(passages, ["missing sentence", "vote was held"], 5) == 1.0
    assert evidence_recall_at_k(passages, "vote was held on Monday", 5) == 0.0
    assert evidence_recall_at_k([], "anything", 5) == 0.0


def test_aggregate_means_numeric_fields_only():
    rows = [{"qid": "a", "hit@1": 1.0, "ok": True}, {"qid": "b", "hit@1": 0.0, "ok": False, "extra": 4}]
    assert aggregate(rows) == {"hit@1": 0.5, "ok": 0.5, "extra": 4.0}
    assert aggregate([]) == {}


def test_percentiles():
    values = [0.1 * i for i in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(5.05)
    assert math.isnan(percentile([], 95))
    summary = latency_summary([0.010, 0.020, 0.030])
    assert summary["latency_p50_ms"] == pytest.approx(20.0)
    assert summary["latency_p95_ms"] == pytest.approx(29.0)


def test_a_gold_article_folded_into_a_shown_duplicate_counts_at_that_rank():
    from assistant.results import Passage
    from eval.runs import article_scores

    def passage(article_id: str, duplicates: tuple[str, ...] = ()) -> Passage:
        return Passage(0, 0, article_id, "t", "s", None, None, "x", 0, 1, 1.0, duplicate_ids=duplicates)

    shown = [passage("other"), passage("copy", ("gold",)), passage("copy"), passage("third")]
    assert [a for a, _ in article_scores(shown)] == ["other", "copy", "third"]  # strict: ids as shown
    named = article_scores(shown, {"gold"})
    assert [a for a, _ in named] == ["other", "gold", "third"]  # the group takes the gold id, once, at rank 2
    assert [s for _, s in named] == sorted((s for _, s in named), reverse=True)
    both = [passage("copy", ("gold",))]
    assert [a for a, _ in article_scores(both, {"copy", "gold"})] == ["copy"]  # a relevant shown id is kept
