"""Ingestion benchmark: articles JSONL → a fresh index with the real model, and how fast and big that was.

    python -m eval.bench_ingest [--articles PATH] [--limit N] [--index DIR] [--json-out PATH]

Defaults to the shared BBC News set (2,225 articles). The model load is timed on its own; the ingest time is
split into embedding (the model's calls), the commit (SQLite transaction plus FAISS and BM25 files) and the
rest (reading, cleaning, sentence splitting, chunking, token counting, cache look-ups).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from eval.report import write_json

DEFAULT_ARTICLES = Path(__file__).resolve().parents[1].parent / "shared/datasets/bbc_news/articles.jsonl"


class TimedEncoder:
    """Wraps an encoder and adds up the seconds spent in its calls (and nothing else changes)."""

    _TIMED = ("encode", "encode_with_sentences", "count_tokens")

    def __init__(self, encoder):
        self._encoder = encoder
        self.seconds = {name: 0.0 for name in self._TIMED}

    def __getattr__(self, name):
        value = getattr(self._encoder, name)  # AttributeError when the encoder lacks it, as hasattr expects
        if name not in self._TIMED:
            return value

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed


def first_articles(items: Iterable, limit: int | None) -> Iterator:
    """Articles and problems in order, stopping after `limit` articles."""
    from index.articles import Article

    taken = 0
    for item in items:
        if isinstance(item, Article):
            if limit is not None and taken >= limit:
                return
            taken += 1
        yield item


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def run(articles: Path, index_dir: Path, limit: int | None, model: str | None, device: str,
        progress: bool, backend: str | None = None) -> dict:
    from index.chunk import ChunkSettings
    from index.embed import load_encoder
    from index.ingest import ingest_into, open_for_writing
    from index.load import load_inputs

    started = time.perf_counter()
    encoder = TimedEncoder(load_encoder(model, device=device, backend=backend))
    model_seconds = time.perf_counter() - started

    settings = ChunkSettings()
    store = open_for_writing(index_dir, encoder, settings)
    commit_seconds = 0.0
    real_commit = store.commit

    def timed_commit(*args, **kwargs):
        nonlocal commit_seconds
        begun = time.perf_counter()
        try:
            return real_commit(*args, **kwargs)
        finally:
            commit_seconds += time.perf_counter() - begun

    store.commit = timed_commit
    try:
        begun = time.perf_counter()
        report = ingest_into(store, first_articles(load_inputs([str(articles)]), limit), encoder, settings,
                             progress=progress)
        ingest_seconds = time.perf_counter() - begun
        stats = store.stats()
    finally:
        store.close()

    stored_articles = len(report.added) + len(report.updated)
    embed_seconds = encoder.seconds["encode"] + encoder.seconds["encode_with_sentences"]
    import torch

    return {
        "articles_file": str(articles),
        "limit": limit,
        "index": str(index_dir),
        "model": encoder.name,
        "dim": encoder.dim,
        "device": device,
        "articles": stored_articles,
        "skipped": len(report.skipped),
        "chunks": stats.chunks,
        "sentences": stats.sentences,
        "chunks_embedded": report.chunks_embedded,
        "chunks_from_cache": report.chunks_from_cache,
        "tokens": report.tokens_embedded,
        "model_load_s": model_seconds,
        "ingest_s": ingest_seconds,
        "embed_s": embed_seconds,
        "count_tokens_s": encoder.seconds["count_tokens"],
        "commit_s": commit_seconds,
        "other_s": max(ingest_seconds - embed_seconds - encoder.seconds["count_tokens"] - commit_seconds, 0.0),
        "articles_per_s": stored_articles / ingest_seconds if ingest_seconds else 0.0,
        "chunks_per_s": stats.chunks / ingest_seconds if ingest_seconds else 0.0,
        "tokens_per_s": report.tokens_embedded / ingest_seconds if ingest_seconds else 0.0,
        "index_bytes": folder_bytes(index_dir),
        "peak_rss_mb": peak_rss_mb(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "skipped_examples": [str(p) for p in report.skipped[:5]],
    }


def table(r: dict) -> str:
    rows = [
        ("articles", f"{r['articles']:,}" + (f"  ({r['skipped']} skipped)" if r["skipped"] else "")),
        ("chunks", f"{r['chunks']:,}  ({r['chunks_embedded']:,} embedded, {r['chunks_from_cache']:,} from cache)"),
        ("sentences", f"{r['sentences']:,}"),
        ("tokens", f"{r['tokens']:,}"),
        ("model load", f"{r['model_load_s']:.1f} s  ({r['model']}, {r['dim']}-d, {r['device']})"),
        ("total time", f"{r['ingest_s']:.1f} s  (model load not included)"),
        ("  embedding", f"{r['embed_s']:.1f} s"),
        ("  token counting", f"{r['count_tokens_s']:.1f} s"),
        ("  commit + files", f"{r['commit_s']:.1f} s"),
        ("  read/clean/split", f"{r['other_s']:.1f} s"),
        ("articles/s", f"{r['articles_per_s']:.1f}"),
        ("chunks/s", f"{r['chunks_per_s']:.1f}"),
        ("tokens/s", f"{r['tokens_per_s']:,.0f}"),
        ("index size", f"{r['index_bytes'] / 1e6:.1f} MB"),
        ("peak memory", f"{r['peak_rss_mb']:.0f} MB (ru_maxrss)"),
        ("machine", f"{r['machine']['cpus']} CPUs, torch {r['machine']['torch']} "
                    f"({r['machine']['torch_threads']} threads), Python {r['machine']['python']}"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES, help="articles JSONL (default: BBC News)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--index", type=Path, default=None, help="index folder to create (default: a temp folder)")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the figures here as JSON")
    parser.add_argument("--model", default=None, help="embedding model (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default=None, choices=("torch", "onnx", "onnx-int8"),
                        help="default: onnx-int8 for the bundled model on the CPU, else torch")
    parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    args = parser.parse_args(argv)

    if not args.articles.is_file():
        print(f"error: {args.articles}: no such file", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    if args.index is not None and args.index.exists() and any(args.index.iterdir()):
        print(f"error: {args.index}: not empty; the benchmark needs a fresh index folder", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        index_dir = args.index or Path(tmp) / "index"
        result = run(args.articles, index_dir, args.limit, args.model, args.device, args.progress, args.backend)
        if args.index is None:
            result["index"] = "(temporary, deleted)"
    print(table(result))
    if args.json_out:
        write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
