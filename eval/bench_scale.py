"""Scale benchmark (not a test): a synthetic index of up to a million chunks, dense and keyword side.

    python -m eval.bench_scale [--chunks 1000000] [--base-index DIR] [--queries 200] [--json-out PATH]
    python -m eval.bench_scale --chunks 250000 --compare flat,ivf-sq8,hnsw-sq8,ivf-pq --no-keywords

Vectors are perturbed copies of real chunk vectors, read from an existing index's SQLite `vectors` table
(default runs/idx-rtqa when it exists): a real vector plus Gaussian noise of norm --noise, made unit
length again (without a base index: clustered random vectors). Keyword texts are perturbed copies of real
chunk texts (the base index's chunks, else ~900-character windows of the RealTime QA articles): a few
words dropped and a few neighbouring words swapped. Queries: --queries perturbed real vectors (fresh
noise) for the dense side, six words of a real text for the keyword side.

Reports build time (vectors: VectorIndex.build, the kind EXACT_MAX picks; keywords: the store's tantivy
KeywordIndex, with the project's tokenizer), size of the serialized files and the RSS a fresh process grows by when it
loads them (the RAM figure, per chunk), query p50/p95 (dense k=100 as the engine asks, keyword k=100,
flat exact k=100 for reference), and recall@10 of the index against exact search (IndexFlatIP over the
same vectors), unmasked and with random masks keeping 10% and 1% of the positions.

With --compare, the dense side is built once per listed kind at the same size (keywords skipped), which is
how the kind and threshold in index/vectors.py were chosen. Run it with `nice` where others share the CPUs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.report import write_json

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DEFAULT_BASE_INDEX = Path("runs") / "idx-rtqa"
DEFAULT_ARTICLES = SHARED / "realtimeqa_news" / "articles.jsonl"
DIM = 384
KINDS = ("flat", "ivf-sq8", "hnsw-sq8", "ivf-pq", "ivf-flat")
DEPTH = 100  # candidates the engine asks each retriever for (AskSettings.depth)


# -- base data ---------------------------------------------------------------------------------------------


def base_vectors(index_dir: Path | None, limit: int | None = None) -> tuple[np.ndarray, str]:
    """(real unit vectors, where from) out of an index's SQLite vector cache; an empty array if none."""
    if index_dir is None:
        return np.zeros((0, DIM), dtype=np.float32), "none"
    path = index_dir / "index.sqlite"
    if not path.is_file():
        return np.zeros((0, DIM), dtype=np.float32), f"{path} (missing)"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        dim = DIM
        manifest = index_dir / "manifest.json"
        if manifest.is_file():
            dim = int(json.loads(manifest.read_text()).get("dim", DIM))
        sql = "SELECT vector FROM vectors" + (f" LIMIT {int(limit)}" if limit else "")
        blobs = [row[0] for row in conn.execute(sql)]
    finally:
        conn.close()
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32), f"{path} (no vectors)"
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dim)
    return normalize(matrix.copy()), f"{path} ({len(matrix):,} vectors)"


def clustered_vectors(n: int, dim: int, rng: np.random.Generator, centers: int = 2000) -> np.ndarray:
    """Fallback base set: unit vectors around random centres, roughly like embeddings of many topics."""
    middle = normalize(rng.standard_normal((centers, dim)).astype(np.float32))
    picks = rng.integers(0, centers, n)
    return normalize(middle[picks] + rng.standard_normal((n, dim)).astype(np.float32) * (0.6 / math.sqrt(dim)))


def base_texts(index_dir: Path | None, articles: Path, limit: int = 50_000) -> tuple[list[str], str]:
    """Real chunk texts (title + chunk) from an index, else ~900-character windows of articles."""
    if index_dir is not None and (index_dir / "index.sqlite").is_file():
        conn = sqlite3.connect(f"file:{index_dir / 'index.sqlite'}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute(
                "SELECT a.title, substr(a.body, c.start + 1, c.end - c.start) FROM chunks c"
                f" JOIN articles a ON a.rowid = c.article_rowid LIMIT {int(limit)}").fetchall()
        finally:
            conn.close()
        if rows:
            return [f"{title}\n{text}" for title, text in rows], f"{index_dir} chunks ({len(rows):,})"
    texts: list[str] = []
    if articles.is_file():
        with open(articles, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                record = json.loads(line)
                title, body = record.get("title") or "", record.get("body") or ""
                texts += [f"{title}\n{w}" for w in windows(body, 900)]
                if len(texts) >= limit:
                    break
        if texts:
            return texts[:limit], f"{articles} windows ({len(texts[:limit]):,})"
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(20_000)]
    return [" ".join(rng.choices(vocab, k=150)) for _ in range(2000)], "random words (no base texts found)"


def windows(body: str, size: int) -> list[str]:
    out, start = [], 0
    while start < len(body):
        end = min(len(body), start + size)
        if end < len(body):
            space = body.rfind(" ", start + size // 2, end)
            end = space if space > 0 else end
        out.append(body[start:end].strip())
        start = end
    return [w for w in out if w]


# -- synthetic data ----------------------------------------------------------------------------------------


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def perturbed(base: np.ndarray, n: int, noise: float, rng: np.random.Generator, block: int = 65536) -> np.ndarray:
    """n unit vectors: random base rows plus Gaussian noise of expected norm `noise`, in blocks."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    scale = noise / math.sqrt(base.shape[1])
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = base[rng.integers(0, len(base), stop - start)]
        out[start:stop] = normalize(rows + rng.standard_normal(rows.shape, dtype=np.float32) * scale)
    return out


def perturbed_texts(texts: list[str], n: int, seed: int) -> list[str]:
    """n texts: each a real text with ~3% of its words dropped and three neighbouring pairs swapped."""
    rng = random.Random(seed)
    split = [t.split() for t in texts]
    out = []
    for _ in range(n):
        words = list(split[rng.randrange(len(split))])
        if len(words) > 4:
            for _ in range(max(1, len(words) // 32)):
                del words[rng.randrange(len(words))]
            for _ in range(3):
                i = rng.randrange(len(words) - 1)
                words[i], words[i + 1] = words[i + 1], words[i]
        out.append(" ".join(words))
    return out


def keyword_queries(texts: list[str], n: int, seed: int, words: int = 6) -> list[str]:
    rng = random.Random(seed + 1)
    out = []
    for _ in range(n):
        pool = [w for w in texts[rng.randrange(len(texts))].split() if len(w) > 3] or ["news"]
        out.append(" ".join(rng.sample(pool, min(words, len(pool)))))
    return out


# -- dense indexes ----------------------------------------------------------------------------------------


def build_kind(kind: str, vectors: np.ndarray, nlist: int | None = None, nprobe: int | None = None):
    """A VectorIndex (flat / ivf-sq8: the project's code) or, for the comparison, another faiss index."""
    import faiss

    from index.vectors import VectorIndex, default_nprobe, ivf_cells

    dim = vectors.shape[1]
    if kind == "flat":
        return VectorIndex.build(vectors, dim, exact_max=len(vectors))
    if kind == "ivf-sq8":
        return VectorIndex.build(vectors, dim, exact_max=0, nlist=nlist, nprobe=nprobe)
    if kind == "hnsw-sq8":
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.train(vectors[: min(len(vectors), 100_000)])
        index.add(vectors)
        index.hnsw.efSearch = nprobe or 128
        return RawIndex(index, "hnsw")
    if kind in ("ivf-pq", "ivf-flat"):
        cells = nlist or ivf_cells(len(vectors))
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf-pq":  # 96 sub-quantizers x 8 bits = 96 bytes a vector
            index = faiss.IndexIVFPQ(quantizer, dim, cells, 96, 8, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 12
        index.cp.spherical = True
        sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), cells * 64), replace=False)
        index.train(vectors[np.sort(sample)])
        index.add(vectors)
        index.nprobe = nprobe or default_nprobe(cells)
        return RawIndex(index, "ivf")
    raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


class ProbeView:
    """A VectorIndex searched with another nprobe."""

    def __init__(self, index, nprobe: int):
        self.index, self.nprobe = index, nprobe

    def search(self, query, k, mask=None):
        return self.index.search(query, k, mask, nprobe=self.nprobe)


class RawIndex:
    """A faiss index with VectorIndex's search/save (comparison kinds only; no masks)."""

    def __init__(self, index, family: str):
        self.index, self.family = index, family

    def search(self, query: np.ndarray, k: int, mask=None):
        scores, positions = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return positions[0], scores[0]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Exact top-k positions by inner product (positions outside the mask excluded), blockwise."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    block = 131072
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start:start + block].T
        if mask is not None:
            scores[:, ~mask[start:start + block]] = -np.inf
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        both_scores = np.concatenate([best_scores, scores], axis=1)
        both_ids = np.concatenate([best_ids, ids], axis=1)
        top = np.argpartition(-both_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(both_scores, top, axis=1)
        best_ids = np.take_along_axis(both_ids, top, axis=1)
    return best_ids


def neighbour_profile(base: np.ndarray, vectors: np.ndarray, queries: np.ndarray, rng) -> dict:
    """Mean cosine of the 1st, 10th and 100th neighbour: real chunk to real chunks (itself left out)
    against synthetic query to synthetic set, to show how close the synthetic neighbourhoods are to real."""
    def ranks(scores):
        top = -np.partition(-scores, 100, axis=1)[:, :101]
        top = -np.sort(-top, axis=1)
        return [round(float(top[:, i].mean()), 3) for i in (0, 9, 99)]

    picks = rng.choice(len(base), min(200, len(base)), replace=False)
    real = base[picks] @ base.T
    real[np.arange(len(picks)), picks] = -np.inf
    synthetic = exact_scores(vectors, queries[:100])
    return {"real_top1_top10_top100": ranks(real) if len(base) > 101 else None,
            "synthetic_top1_top10_top100": ranks(synthetic)}


def exact_scores(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The best 101 scores of each query, blockwise (the full matrix would not fit at 1M)."""
    best = np.full((len(queries), 101), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), 131072):
        both = np.concatenate([best, queries @ vectors[start:start + 131072].T], axis=1)
        best = -np.partition(-both, 100, axis=1)[:, :101]
    return best


def recall_at(found: list[np.ndarray], truth: np.ndarray, k: int = 10) -> float:
    hits = [len(set(f[:k].tolist()) & set(t[:k].tolist())) / k for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def timed_searches(index, queries, k: int, mask=None) -> tuple[list[np.ndarray], list[float]]:
    found, seconds = [], []
    for q in queries:
        started = time.perf_counter()
        positions, _ = index.search(q, k, mask)
        seconds.append(time.perf_counter() - started)
        found.append(positions)
    return found, seconds


def ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else math.nan


def file_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


LOAD_SNIPPET = r"""
import json, sys
from pathlib import Path
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
import faiss, tantivy, Stemmer, numpy  # libraries first: their own RSS is not the index's
from index.keywords import KeywordIndex, _stemmer
from index.vectors import VectorIndex
_stemmer()
out = {}
dense, keywords, dim = sys.argv[1], sys.argv[2], int(sys.argv[3])
if dense:
    before = rss(); v = VectorIndex.load(Path(dense), dim); out["dense_rss_bytes"] = rss() - before
if keywords:
    before = rss(); k = KeywordIndex.open(Path(keywords)).view(numpy.arange(10**7))
    out["keyword_rss_bytes"] = rss() - before
print(json.dumps(out))
"""


def loaded_rss(dense: Path | None, keywords: Path | None, dim: int) -> dict:
    """RSS a fresh process grows by when it loads the saved files (Linux /proc; {} elsewhere)."""
    if not Path("/proc/self/status").exists():
        return {}
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", LOAD_SNIPPET, str(dense or ""), str(keywords or ""), str(dim)],
                          capture_output=True, text=True, cwd=root, timeout=1200)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the benchmark ------------------------------------------------------------------------------------------


def dense_side(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: dict, folder: Path,
               nlist: int | None, nprobe: int | None, masks: dict, sweep: list[int] | None = None) -> dict:
    from index.vectors import EXACT_MAX, VectorIndex

    started = time.perf_counter()
    if kind == "auto":
        index = VectorIndex.build(vectors, vectors.shape[1])
        if nprobe:
            index.nprobe = nprobe
    else:
        index = build_kind(kind, vectors, nlist, nprobe)
    build_s = time.perf_counter() - started
    name = getattr(index, "kind", kind)
    path = folder / f"dense-{name}.faiss"
    index.save(path)
    _, seconds = timed_searches(index, queries, DEPTH)
    found, _ = timed_searches(index, queries, 10)
    out = {"kind": name, "build_s": build_s, "file_bytes": file_bytes(path),
           "bytes_per_chunk_file": file_bytes(path) / len(vectors),
           "query_p50_ms": ms(seconds, 50), "query_p95_ms": ms(seconds, 95),
           "recall@10": recall_at(found, truth[None]), "exact_max": EXACT_MAX, "path": str(path)}
    if isinstance(index, VectorIndex) and index.nlist:
        out.update(nlist=index.nlist, nprobe=index.nprobe)
        out["sweep"] = []
        for probes in sweep or []:  # the same index searched with other nprobe values
            found, seconds = timed_searches(ProbeView(index, probes), queries, 10)
            _, deep = timed_searches(ProbeView(index, probes), queries, DEPTH)
            out["sweep"].append({"nprobe": probes, "recall@10": recall_at(found, truth[None]),
                                 "query_p50_ms": ms(deep, 50), "query_p95_ms": ms(deep, 95)})
    if isinstance(index, VectorIndex):
        for label, mask in masks.items():
            found, seconds = timed_searches(index, queries, 10, mask)
            out[f"recall@10_mask{label}"] = recall_at(found, truth[label])
            out[f"query_p50_ms_mask{label}"] = ms(seconds, 50)
            out[f"query_p95_ms_mask{label}"] = ms(seconds, 95)
    return out


def real_only_check(base: np.ndarray, n_queries: int, noise: float, rng, sweep: list[int]) -> dict:
    """The IVF-SQ8 index over the real vectors alone (no synthetic copies), queries = perturbed real vectors:
    the synthetic set keeps each query's neighbours in one tight group, which flatters IVF; real
    neighbourhoods are spread over more cells."""
    from index.vectors import VectorIndex

    if len(base) < 2000:
        return {}
    queries = perturbed(base, n_queries, noise, rng)
    truth = exact_top(base, queries, 10)
    index = VectorIndex.build(base, base.shape[1], exact_max=0)
    out = {"vectors": len(base), "nlist": index.nlist, "sweep": []}
    for probes in sorted(set(sweep) | {index.nprobe}):
        if probes <= index.nlist:
            found, _ = timed_searches(ProbeView(index, probes), queries, 10)
            out["sweep"].append({"nprobe": probes, "recall@10": recall_at(found, truth)})
    return out


def run(chunks: int, base_index: Path | None, articles: Path, n_queries: int, noise: float, seed: int,
        keywords: bool, compare: list[str], nlist: int | None, nprobe: int | None, folder: Path,
        sweep: list[int] | None = None) -> dict:
    from index.vectors import VectorIndex

    rng = np.random.default_rng(seed)
    result: dict = {"chunks": chunks, "noise": noise, "queries": n_queries, "seed": seed}
    started = time.perf_counter()
    base, source = base_vectors(base_index)
    if len(base) == 0:
        base, source = clustered_vectors(50_000, DIM, rng), f"clustered random ({source})"
    result["base_vectors"], result["base_vectors_from"] = len(base), source
    vectors = perturbed(base, chunks, noise, rng)
    queries = perturbed(base, n_queries, noise, rng)
    result["make_vectors_s"] = time.perf_counter() - started
    result["neighbour_cosines"] = neighbour_profile(base, vectors, queries, rng)

    # Exact ground truth, and the flat index's own latency for reference.
    masks = {"10%": rng.random(chunks) < 0.10, "1%": rng.random(chunks) < 0.01}
    started = time.perf_counter()
    truth = {None: exact_top(vectors, queries, 10)}
    for label, mask in masks.items():
        truth[label] = exact_top(vectors, queries, 10, mask)
    result["ground_truth_s"] = time.perf_counter() - started
    flat = VectorIndex.build(vectors, DIM, exact_max=len(vectors))  # the exact kind, searched as the app does
    _, flat_seconds = timed_searches(flat, queries[: min(len(queries), 50)], DEPTH)
    result["flat_query_p50_ms"], result["flat_query_p95_ms"] = ms(flat_seconds, 50), ms(flat_seconds, 95)
    del flat

    result["real_only"] = real_only_check(base, n_queries, noise, rng, sweep or [8, 16, 32, 64])
    result["dense"] = [dense_side(kind, vectors, queries, truth, folder, nlist, nprobe, masks, sweep)
                       for kind in (compare or ["auto"])]
    dense_path = Path(result["dense"][0]["path"]) if not compare else None
    del vectors

    keyword_path = None
    if keywords and not compare:
        from index.keywords import KeywordIndex

        texts, text_source = base_texts(base_index, articles)
        result["base_texts"], result["base_texts_from"] = len(texts), text_source
        started = time.perf_counter()
        synthetic = perturbed_texts(texts, chunks, seed)
        result["make_texts_s"] = time.perf_counter() - started
        result["mean_text_chars"] = float(np.mean([len(t) for t in synthetic[:10000]]))
        started = time.perf_counter()
        keyword_path = folder / "keyword"
        store_index = KeywordIndex.open(keyword_path, create=True)
        for start in range(0, len(synthetic), 100_000):
            store_index.apply([(i, synthetic[i]) for i in range(start, min(len(synthetic), start + 100_000))], [])
        index = store_index.view(np.arange(len(synthetic)))
        build_s = time.perf_counter() - started
        del synthetic
        queries_text = keyword_queries(texts, n_queries, seed)
        _, seconds = timed_searches(index, queries_text, DEPTH)
        mask = masks["10%"]
        _, masked_seconds = timed_searches(index, queries_text, DEPTH, mask)
        result["keyword"] = {"build_s": build_s, "file_bytes": file_bytes(keyword_path),
                             "bytes_per_chunk_file": file_bytes(keyword_path) / chunks,
                             "query_p50_ms": ms(seconds, 50), "query_p95_ms": ms(seconds, 95),
                             "query_p50_ms_mask10%": ms(masked_seconds, 50),
                             "query_p95_ms_mask10%": ms(masked_seconds, 95)}
        del index

    if not compare:
        rss = loaded_rss(dense_path, keyword_path, DIM)
        result["loaded_rss"] = rss
        if "dense_rss_bytes" in rss:
            result["dense"][0]["bytes_per_chunk_rss"] = rss["dense_rss_bytes"] / chunks
        if "keyword_rss_bytes" in rss and "keyword" in result:
            result["keyword"]["bytes_per_chunk_rss"] = rss["keyword_rss_bytes"] / chunks
    for item in result["dense"]:
        item.pop("path", None)
    result["machine"] = machine()
    return result


def machine() -> dict:
    import faiss

    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "faiss": faiss.__version__, "faiss_threads": faiss.omp_get_max_threads(),
            "loadavg_at_end": [round(x, 2) for x in load]}


def table(r: dict) -> str:
    n = r["chunks"]
    p = r["neighbour_cosines"]
    rows = [("chunks", f"{n:,} (vectors from {r['base_vectors_from']}, noise {r['noise']})"),
            ("neighbour cosines", f"1st/10th/100th: real {p['real_top1_top10_top100']}, "
                                  f"synthetic {p['synthetic_top1_top10_top100']}")]
    for d in r["dense"]:
        label = d["kind"] + (f" nlist={d['nlist']} nprobe={d['nprobe']}" if "nlist" in d else "")
        rows += [
            (f"dense {label}", ""),
            ("  build", f"{d['build_s']:.1f} s"),
            ("  file", f"{d['file_bytes'] / 1e6:.1f} MB = {d['bytes_per_chunk_file']:.0f} B/chunk"
             + (f"; loaded RSS {d['bytes_per_chunk_rss']:.0f} B/chunk" if "bytes_per_chunk_rss" in d else "")),
            (f"  query k={DEPTH}", f"p50 {d['query_p50_ms']:.2f} ms, p95 {d['query_p95_ms']:.2f} ms"),
            ("  recall@10", f"{d['recall@10']:.4f}"
             + "".join(f"; mask {m}: {d[f'recall@10_mask{m}']:.4f} (p50 {d[f'query_p50_ms_mask{m}']:.2f} ms)"
                       for m in ("10%", "1%") if f"recall@10_mask{m}" in d)),
        ]
        rows += [(f"  nprobe {s['nprobe']}", f"recall@10 {s['recall@10']:.4f}, k={DEPTH} "
                                             f"p50 {s['query_p50_ms']:.2f} ms, p95 {s['query_p95_ms']:.2f} ms")
                 for s in d.get("sweep", [])]
    real = r.get("real_only") or {}
    if real:
        rows.append((f"real vectors only ({real['vectors']:,}, nlist {real['nlist']})",
                     "recall@10 " + ", ".join(f"nprobe {x['nprobe']}: {x['recall@10']:.4f}" for x in real["sweep"])))
    rows.append(("flat exact reference", f"p50 {r['flat_query_p50_ms']:.2f} ms, p95 {r['flat_query_p95_ms']:.2f} ms"))
    if "keyword" in r:
        k = r["keyword"]
        rows += [
            ("keywords (tantivy)", f"texts from {r['base_texts_from']}, mean {r['mean_text_chars']:.0f} chars"),
            ("  build", f"{k['build_s']:.1f} s"),
            ("  files", f"{k['file_bytes'] / 1e6:.1f} MB = {k['bytes_per_chunk_file']:.0f} B/chunk"
             + (f"; loaded RSS {k['bytes_per_chunk_rss']:.0f} B/chunk" if "bytes_per_chunk_rss" in k else "")),
            (f"  query k={DEPTH}", f"p50 {k['query_p50_ms']:.2f} ms, p95 {k['query_p95_ms']:.2f} ms; "
                                   f"mask 10%: p50 {k['query_p50_ms_mask10%']:.2f} ms"),
        ]
        d = r["dense"][0]
        if "bytes_per_chunk_rss" in d and "bytes_per_chunk_rss" in k:
            rss = d["bytes_per_chunk_rss"] + k["bytes_per_chunk_rss"]
            disk = d["bytes_per_chunk_file"] + k["bytes_per_chunk_file"]
            rows.append(("vectors + keywords", f"{rss:.0f} B/chunk loaded RSS; {disk:.0f} B/chunk on disk"))
    m = r["machine"]
    rows.append(("machine", f"{m['cpus']} CPUs, faiss {m['faiss']} ({m['faiss_threads']} threads), "
                            f"load avg at end {m['loadavg_at_end']}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}".rstrip() for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--base-index", type=Path, default=DEFAULT_BASE_INDEX if DEFAULT_BASE_INDEX.exists() else None,
                        help="index whose vectors (and chunks) seed the synthetic set (default: %(default)s)")
    parser.add_argument("--articles", type=Path, default=DEFAULT_ARTICLES,
                        help="articles JSONL for keyword texts when the base index has no chunks")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.6, help="norm of the Gaussian noise added to real vectors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-keywords", action="store_true", help="dense side only")
    parser.add_argument("--compare", default="", help=f"comma-separated dense kinds to compare: {', '.join(KINDS)}")
    parser.add_argument("--nlist", type=int, default=None, help="IVF cells (default: index/vectors.py's rule)")
    parser.add_argument("--nprobe", type=int, default=None, help="IVF cells scanned (HNSW: efSearch)")
    parser.add_argument("--sweep", default="", help="IVF: also measure these nprobe values, e.g. 8,16,32,64")
    parser.add_argument("--dir", type=Path, default=None, help="keep the built files here (default: a temp folder)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    compare = [k.strip() for k in args.compare.split(",") if k.strip()]
    unknown = [k for k in compare if k not in KINDS]
    if unknown or args.chunks < 1000 or args.queries < 1:
        parser.error(f"unknown kinds {unknown}" if unknown else "--chunks must be >= 1000 and --queries >= 1")

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        result = run(args.chunks, args.base_index, args.articles, args.queries, args.noise, args.seed,
                     not args.no_keywords, compare, args.nlist, args.nprobe, folder,
                     [int(x) for x in args.sweep.split(",") if x.strip()])
    print(table(result))
    if args.json_out:
        write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
