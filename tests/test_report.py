"""The report folder: machine-readable files parse, the Markdown table carries the figures, the PNG is a PNG."""

from __future__ import annotations

import json
import math

import pytest

from eval.report import markdown_report, safe_name, write_report

RESULTS = {
    "bm25": {"ndcg@10": 0.5123, "mrr@10": 0.45, "recall@1": 0.3, "recall@3": 0.5, "recall@5": 0.6,
             "recall@10": 0.7, "recall@20": 0.8, "hit@5": 0.62, "latency_p95_ms": 12.5},
    "hybrid rrf": {"ndcg@10": 0.6001, "mrr@10": 0.55, "recall@1": 0.4, "recall@3": 0.6, "recall@5": 0.7,
                   "recall@10": 0.8, "recall@20": 0.9, "hit@5": 0.71, "latency_p95_ms": 40.0,
                   "evidence_recall@5": math.nan},
}
RUNS = {
    "bm25": {"q1": [("a", 3.5), ("b", 1.25)], "q2": [("c", 0.5)]},
    "hybrid rrf": {"q1": [("b", 0.03), ("a", 0.02)], "q2": []},
}
ROWS = {"bm25": [{"qid": "q1", "hit@5": 1.0, "retrieved": ["a", "b"]}, {"qid": "q2", "hit@5": 0.0}]}


def test_writes_every_file(tmp_path):
    files = write_report(tmp_path / "out", RESULTS, ROWS, RUNS, notes=["dataset: toy"])
    assert all(path.is_file() for path in files.all)
    assert {p.name for p in files.runs} == {"run-bm25.trec", "run-hybrid_rrf.trec"}
    assert [p.name for p in files.per_question] == ["per_question-bm25.jsonl"]

    stored = json.loads(files.metrics_json.read_text())
    assert stored["bm25"]["ndcg@10"] == 0.5123
    assert stored["hybrid rrf"]["evidence_recall@5"] is None  # NaN is not valid JSON

    rows = [json.loads(line) for line in files.per_question[0].read_text().splitlines()]
    assert rows[0] == ROWS["bm25"][0] and len(rows) == 2

    assert files.recall_curve is not None
    assert files.recall_curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_holds_the_figures_side_by_side(tmp_path):
    text = write_report(tmp_path, RESULTS).report_md.read_text()
    assert "| metric | bm25 | hybrid rrf |" in text
    assert "| ndcg@10 | 0.512 | **0.600** |" in text
    assert "| latency_p95_ms | **12.5** | 40.0 |" in text  # lower latency is the better one
    assert "| evidence_recall@5 | – | – |" in text
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len({line.count("|") for line in table}) == 1  # every row has the same number of cells
    assert table[2].startswith("| ndcg@10 ")  # headline metric first


def test_trec_lines_parse(tmp_path):
    files = write_report(tmp_path, RESULTS, runs=RUNS)
    lines = (tmp_path / "run-bm25.trec").read_text().splitlines()
    assert lines == ["q1 Q0 a 1 3.500000 bm25", "q1 Q0 b 2 1.250000 bm25", "q2 Q0 c 1 0.500000 bm25"]
    for path in files.runs:  # every run file holds its configuration's ranking, in order, and nothing else
        name = next(n for n in RUNS if path.stem == f"run-{safe_name(n)}")
        parsed = [line.split() for line in path.read_text().splitlines()]
        expected = [[qid, "Q0", doc, str(rank), f"{score:.6f}", safe_name(name)]
                    for qid, ranking in RUNS[name].items() for rank, (doc, score) in enumerate(ranking, 1)]
        assert parsed == expected


def test_single_configuration_and_no_recall_figures(tmp_path):
    files = write_report(tmp_path, {"only": {"mrr@10": 0.25, "questions": 12}})
    assert files.recall_curve is None and files.runs == () and files.per_question == ()
    text = markdown_report({"only": {"mrr@10": 0.25, "questions": 12}})
    assert "| mrr@10 | 0.250 |" in text and "| questions | 12 |" in text and "**" not in text


def test_safe_name_and_colliding_configurations(tmp_path):
    assert safe_name("dense / k=20") == "dense_k_20"
    assert safe_name("///") == "run"
    with pytest.raises(ValueError, match="collide"):
        write_report(tmp_path, {"a b": {}, "a/b": {}})
