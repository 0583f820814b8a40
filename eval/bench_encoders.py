"""Benchmark (not a test): embedding throughput and agreement, torch vs ONNX Runtime, on real BBC chunks.

    python -m eval.bench_encoders [--n 200] [--mode ingest|encode] [--rounds 1] [--json-out PATH]

Makes chunks the way ingestion does (split_sentences + make_chunks + embedding_text), then embeds the
same chunks in one process with torch fp32 (batch 16 and 32), ONNX Runtime fp32 and ONNX Runtime int8.
Prints chunks/s, model tokens/s, speed relative to torch (batch 16, the project's setting), CPU time
per chunk, and cosine of each chunk vector (and, in `ingest` mode, each sentence-span vector) to the
torch fp32 one. With --rounds > 1 the configurations are interleaved and the best round is kept,
which damps the noise of a shared machine; run it with `nice` where others share the CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from eval.report import write_json

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def load_chunks(path: Path, n: int, stride: int, counter) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """Up to n embedded chunk texts (title + chunk) and their sentence spans, from every stride-th article."""
    from index.chunk import ChunkSettings, embedding_text, make_chunks
    from index.sentences import split_sentences

    settings = ChunkSettings()
    texts, spans = [], []
    with open(path, encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle if line.strip()]
    for article in articles[::max(1, stride)]:
        body, title = article["body"], article.get("title") or ""
        sentences = split_sentences(body)
        if not sentences:
            continue
        for chunk in make_chunks(body, sentences, counter.count_tokens([s.text for s in sentences]), settings):
            text = embedding_text(title, chunk.text, settings)
            prefix = len(text) - len(chunk.text)
            texts.append(text)
            spans.append([(prefix + s.start - chunk.start, prefix + s.end - chunk.start)
                          for s in sentences[chunk.first_sentence:chunk.last_sentence + 1]])
            if len(texts) >= n:
                return texts, spans
    return texts, spans


def run_once(encoder, texts, spans, mode: str):
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "ingest":
        chunk_vectors, sentence_vectors = encoder.encode_with_sentences(texts, spans)
    else:
        chunk_vectors, sentence_vectors = encoder.encode(texts), None
    return time.perf_counter() - wall, time.process_time() - cpu, chunk_vectors, sentence_vectors


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64), axis=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=SHARED / "bbc_news" / "articles.jsonl")
    parser.add_argument("--n", type=int, default=200, help="chunks to embed (default 200)")
    parser.add_argument("--stride", type=int, default=11, help="take every stride-th article (spread categories)")
    parser.add_argument("--mode", choices=("ingest", "encode"), default="ingest",
                        help="ingest: encode_with_sentences (what indexing runs); encode: chunk vectors only")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions; the fastest is kept")
    parser.add_argument("--onnx-batches", default="1,16", help="ONNX batch sizes to compare (default 1,16)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX export cache (default: cache_home()/onnx)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)

    from index.embed import SentenceTransformerEncoder
    from index.embed_onnx import OnnxEncoder

    load_seconds = {}
    t = time.perf_counter()
    torch_encoder = SentenceTransformerEncoder(batch_size=16)
    load_seconds["torch"] = time.perf_counter() - t
    texts, spans = load_chunks(args.articles, args.n, args.stride, torch_encoder)
    n_tokens = sum(min(c + 2, torch_encoder.max_tokens) for c in torch_encoder.count_tokens(texts))
    onnx = {}
    for quantize in (False, True):
        t = time.perf_counter()
        encoder = OnnxEncoder(quantize=quantize, cache_dir=args.cache_dir, threads=args.threads)
        onnx[quantize] = encoder
        load_seconds[encoder.name] = time.perf_counter() - t
    configs = [  # (label, encoder, batch size)
        ("torch fp32", torch_encoder, 16),
        ("torch fp32", torch_encoder, 32),
    ] + [(f"onnx {precision}", onnx[quantize], batch) for precision, quantize in (("fp32", False), ("int8", True))
         for batch in sorted({int(b) for b in args.onnx_batches.split(",") if b.strip()})]
    load_before = os.getloadavg()
    for _, encoder, batch in configs:  # warm-up: first-call allocations, thread pools
        encoder.batch_size = batch
        run_once(encoder, texts[:4], spans[:4], args.mode)

    best: dict[int, tuple] = {}
    for _ in range(max(1, args.rounds)):
        for i, (_, encoder, batch) in enumerate(configs):
            encoder.batch_size = batch
            result = run_once(encoder, texts, spans, args.mode)
            if i not in best or result[0] < best[i][0]:
                best[i] = result
    load_after = os.getloadavg()
    torch_encoder.batch_size = 16

    _, _, reference, reference_sentences = best[0]
    base_speed = len(texts) / best[0][0]
    rows = []
    for i, (label, encoder, batch) in enumerate(configs):
        wall, cpu, vectors, sentence_vectors = best[i]
        chunk_cos = cosines(vectors, reference)
        row = {"backend": label, "name": encoder.name, "batch": batch, "seconds": wall,
               "chunks_per_s": len(texts) / wall, "tokens_per_s": n_tokens / wall,
               "ratio_to_torch": (len(texts) / wall) / base_speed, "cpu_ms_per_chunk": 1000 * cpu / len(texts),
               "cos_mean": float(chunk_cos.mean()), "cos_min": float(chunk_cos.min()),
               "load_s": load_seconds["torch" if label.startswith("torch") else encoder.name]}
        if sentence_vectors is not None:
            pairs = zip(sentence_vectors, reference_sentences, strict=True)
            sent_cos = np.concatenate([cosines(a, b) for a, b in pairs])
            row.update(sentence_cos_mean=float(sent_cos.mean()), sentence_cos_min=float(sent_cos.min()))
        rows.append(row)

    n_sentences = sum(len(s) for s in spans)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    machine = {"cpus": os.cpu_count(), "affinity": usable,
               "processor": _cpu_model(), "python": platform.python_version(),
               "loadavg_before": load_before, "loadavg_after": load_after}
    print(f"\n{len(texts)} chunks ({n_tokens} model tokens, mean {n_tokens / len(texts):.0f}; {n_sentences} sentences) "
          f"from {args.articles.name}; mode={args.mode}, rounds={args.rounds} (best kept)")
    print(f"machine: {machine['affinity']} usable CPUs ({machine['processor']}); load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after - a shared machine is noisy\n")
    header = f"{'backend':<12}{'batch':>6}{'chunks/s':>10}{'tokens/s':>10}{'x torch':>9}{'cpu ms/ch':>11}" \
             f"{'cos mean':>10}{'cos min':>9}"
    if args.mode == "ingest":
        header += f"{'sent mean':>11}{'sent min':>10}"
    print(header + f"{'load s':>8}")
    for row in rows:
        line = (f"{row['backend']:<12}{row['batch']:>6}{row['chunks_per_s']:>10.1f}{row['tokens_per_s']:>10.0f}"
                f"{row['ratio_to_torch']:>9.2f}{row['cpu_ms_per_chunk']:>11.1f}{row['cos_mean']:>10.5f}{row['cos_min']:>9.5f}")
        if "sentence_cos_mean" in row:
            line += f"{row['sentence_cos_mean']:>11.5f}{row['sentence_cos_min']:>10.5f}"
        print(line + f"{row['load_s']:>8.1f}")
    print("\ncosines are to torch fp32 at batch 16; 'x torch' is chunks/s relative to that row; "
          "load s includes any one-time ONNX export")

    if args.json_out:
        write_json(args.json_out, {
            "chunks": len(texts), "tokens": n_tokens, "sentences": n_sentences, "mode": args.mode,
            "rounds": args.rounds, "articles": str(args.articles), "machine": machine, "rows": rows,
        })
        print(f"wrote {args.json_out}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
