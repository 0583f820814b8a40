"""Benchmark (not a test): answer latency on the BBC corpus, end to end and per stage.

    python -m eval.bench_answer [--articles PATH] [--index DIR] [--questions 200] [--json-out PATH]

Builds (or reuses) the index, asks questions drawn from the corpus (held-out sentences and titles,
like `assistant eval synthetic`), and prints p50/p95/max per stage and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
STAGES = ("embed_query", "dense_search", "keyword_search", "article_search", "fusion", "grouping", "sentence_selection",
          "total")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=SHARED / "bbc_news" / "articles.jsonl")
    parser.add_argument("--index", type=Path, default=None, help="reuse or build the index here (default: temp)")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)

    from assistant.engine import Assistant
    from eval.datasets import synthetic_questions
    from index.embed import encoder_for_index, load_encoder
    from index.ingest import build_index

    encoder = (encoder_for_index(args.index) if args.index else None) or load_encoder()
    index_dir = args.index or Path(tempfile.mkdtemp(prefix="bench-answer-"))
    t = time.perf_counter()
    report = build_index([str(args.articles)], index_dir, encoder, progress=True)
    build_seconds = time.perf_counter() - t
    assistant = Assistant.load(index_dir, encoder=encoder)
    snapshot = assistant.snapshot
    articles = [(a.id, a.title, snapshot.article(a.id).body) for a in snapshot.articles()]
    questions = synthetic_questions(articles, n=args.questions, seed=1).questions[: args.questions]
    assistant.ask("warm-up question about the economy", mode=args.mode)

    per_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for question in questions:
        answer = assistant.ask(question.text, mode=args.mode)
        for stage in STAGES:
            per_stage[stage].append(answer.timings.get(stage, 0.0) * 1000)
    rows = {stage: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)), "max": float(max(v))}
            for stage, v in per_stage.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nindex: {index_dir} ({snapshot.size} chunks; build/update {build_seconds:.1f} s, "
          f"{len(report.added)} articles added)")
    print(f"questions: {len(questions)} ({args.mode}); milliseconds per question:")
    print(f"{'stage':<20}{'p50':>9}{'p95':>9}{'max':>9}")
    for stage, r in rows.items():
        print(f"{stage:<20}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['max']:>9.2f}")
    print(f"peak memory (RSS): {peak_mb:.0f} MB")
    if args.json_out:
        args.json_out.write_text(json.dumps({"stages_ms": rows, "questions": len(questions), "chunks": snapshot.size,
                                             "peak_rss_mb": peak_mb, "build_seconds": build_seconds}, indent=2))


if __name__ == "__main__":
    main()
