"""Keyword engines side by side (not a test): bm25s (the session-2 index), SQLite FTS5 and tantivy (the
store's engine now), on the same chunk texts with the same terms (index/keywords.py: bm25s's tokenizer,
its stopwords, PyStemmer's English stemmer; FTS5 and tantivy get the terms pre-stemmed).

    python -m eval.bench_keyword --quality                       # SciFact, RealTime QA, BBC: nDCG@10, Hit@5
    python -m eval.bench_keyword --speed 30000,1000000 --engines bm25s,fts5,tantivy

Quality: each dataset's articles are split and chunked as the store does (pysbd sentences, 200-token
chunks with one sentence of overlap; token counts approximated by words × 4/3, the same for every
engine), each chunk indexed as "title\\nchunk"; a question's article ranking is its top-100 chunks'
articles in order of their best chunk. SciFact and RealTime QA use their qrels (RealTime QA without its
question dates: the engines, not time-awareness, are compared), BBC 200 synthetic known-item questions
(eval/datasets.py). Speed: texts as eval/bench_scale.py makes them (perturbed copies of ~900-character
windows of the RealTime QA articles), 200 six-word queries, k=100, one thread; build time includes
tokenizing.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench_scale import SHARED as _SHARED
from eval.bench_scale import base_texts, keyword_queries, perturbed_texts
from eval.report import emit_json
from index.keywords import KeywordIndex, terms

ENGINES = ("bm25s", "fts5", "tantivy")
# ../shared/datasets beside the checkout, else the workplace copy (a worktree sits one level deeper)
SHARED = _SHARED
DEFAULT_ARTICLES = SHARED / "realtimeqa_news" / "articles.jsonl"


class Bm25s:
    """The session-2 keyword index: bm25s over the same terms."""

    def __init__(self, texts: list[str], folder: Path):
        import bm25s

        self.model = bm25s.BM25()
        self.model.index([terms(t) for t in texts], show_progress=False)
        self.n = len(texts)

    def search(self, query: str, k: int) -> np.ndarray:
        words = [w for w in terms(query) if w in self.model.vocab_dict]
        if not words:
            return np.zeros(0, dtype=np.int64)
        docs, scores = self.model.retrieve([words], k=min(k, self.n), show_progress=False, n_threads=1)
        return docs[0][scores[0] > 0].astype(np.int64)


class Fts5:
    """SQLite FTS5 over pre-stemmed terms, bm25() ranking (k1 1.2, b 0.75)."""

    def __init__(self, texts: list[str], folder: Path):
        self.conn = sqlite3.connect(folder / "fts.sqlite")
        self.conn.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize=\"unicode61 tokenchars '_'\")")
        self.conn.executemany("INSERT INTO f(rowid, text) VALUES (?, ?)",
                              ((i, " ".join(terms(t))) for i, t in enumerate(texts)))
        self.conn.commit()

    def search(self, query: str, k: int) -> np.ndarray:
        words = terms(query)
        if not words:
            return np.zeros(0, dtype=np.int64)
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self.conn.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT ?", (match, k))
        return np.array([r[0] for r in rows], dtype=np.int64)


class Tantivy:
    """The store's KeywordIndex (index/keywords.py)."""

    def __init__(self, texts: list[str], folder: Path):
        self.index = KeywordIndex.open(folder / "tantivy", create=True)
        for start in range(0, len(texts), 100_000):
            self.index.apply([(i, texts[i]) for i in range(start, min(len(texts), start + 100_000))], [])
        self.view = self.index.view(np.arange(len(texts)))

    def search(self, query: str, k: int) -> np.ndarray:
        return self.view.search(query, k)[0]


def make(engine: str, texts: list[str], folder: Path):
    return {"bm25s": Bm25s, "fts5": Fts5, "tantivy": Tantivy}[engine](texts, folder)


# -- quality --------------------------------------------------------------------------------------------------


def dataset_chunks(name: str):
    """(chunk texts, chunk article ids, questions [(id, text)], qrels) for one dataset."""
    from eval.datasets import load_beir, load_questions, synthetic_questions
    from index.chunk import ChunkSettings, make_chunks
    from index.load import load_inputs
    from index.sentences import split_sentences

    if name == "scifact":
        dataset = load_beir(SHARED / "scifact_beir")
        articles_path = dataset.articles_path
    elif name == "realtimeqa":
        dataset = load_questions(SHARED / "realtimeqa_news" / "questions.jsonl",
                                 SHARED / "realtimeqa_news" / "articles.jsonl")
        articles_path = dataset.articles_path
    else:
        articles_path = SHARED / "bbc_news" / "articles.jsonl"
        dataset = None
    articles = [a for a in load_inputs([str(articles_path)]) if hasattr(a, "body")]
    if dataset is None:
        dataset = synthetic_questions(((a.id, a.title, a.body) for a in articles), n=100)
    settings = ChunkSettings()
    texts, owners = [], []
    for article in articles:
        sentences = split_sentences(article.body)
        counts = [max(1, len(s.text.split()) * 4 // 3) for s in sentences]
        for chunk in make_chunks(article.body, sentences, counts, settings):
            texts.append(f"{article.title}\n{chunk.text}")
            owners.append(article.id)
    questions = [(q.id, q.text) for q in dataset.questions if q.id in dataset.qrels]
    return texts, owners, questions, dataset.qrels


def quality(engines: list[str], datasets: list[str]) -> dict:
    from eval.metrics import query_metrics

    out: dict = {}
    for name in datasets:
        texts, owners, questions, qrels = dataset_chunks(name)
        out[name] = {"chunks": len(texts), "questions": len(questions)}
        for engine in engines:
            with tempfile.TemporaryDirectory() as tmp:
                index = make(engine, texts, Path(tmp))
                rows = []
                for qid, text in questions:
                    ranked = list(dict.fromkeys(owners[int(p)] for p in index.search(text, 100)))
                    rows.append(query_metrics(ranked, qrels[qid]))
            out[name][engine] = {m: float(np.mean([r[m] for r in rows])) for m in ("ndcg@10", "hit@5")}
            print(f"{name} {engine} {out[name][engine]}", file=sys.stderr)
    return out


# -- speed ----------------------------------------------------------------------------------------------------


def speed(engines: list[str], sizes: list[int], n_queries: int, seed: int) -> dict:
    base, where = base_texts(None, DEFAULT_ARTICLES)
    out: dict = {"texts_from": where}
    for n in sizes:
        texts = perturbed_texts(base, n, seed)
        queries = keyword_queries(texts, n_queries, seed)
        out[n] = {}
        for engine in engines:
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                index = make(engine, texts, Path(tmp))
                build = time.perf_counter() - started
                for q in queries[:5]:
                    index.search(q, 100)  # warm-up
                times = []
                for q in queries:
                    t = time.perf_counter()
                    index.search(q, 100)
                    times.append(time.perf_counter() - t)
                del index
            ms = np.array(times) * 1000
            out[n][engine] = {"build_s": build, "p50_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95))}
            print(f"{n} {engine} {out[n][engine]}", file=sys.stderr)
        del texts
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--datasets", default="scifact,realtimeqa,bbc")
    parser.add_argument("--speed", default="", help="comma-separated chunk counts, e.g. 30000,1000000")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    result: dict = {}
    if args.quality:
        result["quality"] = quality(engines, args.datasets.split(","))
    if args.speed:
        result["speed"] = speed(engines, [int(s) for s in args.speed.split(",")], args.queries, args.seed)
    emit_json(result, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
