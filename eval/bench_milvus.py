"""The Milvus backend against the embedded store: same answers, ingest time, answer latency, recall.

    nice python -m eval.bench_milvus --milvus 127.0.0.1:19530 agree --encoder fake|real
    nice python -m eval.bench_milvus --milvus 127.0.0.1:19530 scale [--dim 384]

`agree`: the demo corpus and the first 300 BBC articles in both stores, every question of
eval/data/demo_questions.jsonl and bbc_questions.jsonl asked of both: the share whose top-5 articles
agree (same ids, same order), and whether every Milvus answer sentence is its article's body at its
offsets. The real encoder's vectors are computed once and replayed for the second store.
`scale`: RealTime QA (all articles, ~30k chunks) with the fake encoder at 384 dimensions (the store's
work, not the model's, is what differs): ingest seconds per store, answer p50/p95 per store, and the
HNSW's recall@10 against exact search (FAISS flat over the same vectors) for 200 queries.
A Milvus server must be running (python -m index.milvus_server).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
BBC = SHARED / "bbc_news" / "articles.jsonl"
RTQA = SHARED / "realtimeqa_news" / "articles.jsonl"


class ReplayEncoder:
    """Remembers the wrapped encoder's outputs by text, so the second store gets the same vectors
    without a second model run."""

    def __init__(self, encoder):
        self._encoder, self._chunks, self._queries = encoder, {}, {}
        self.name, self.dim = encoder.name, encoder.dim

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode(self, texts):
        missing = [t for t in texts if t not in self._queries]
        if missing:
            for t, v in zip(missing, self._encoder.encode(missing), strict=True):
                self._queries[t] = v
        return np.stack([self._queries[t] for t in texts])

    def encode_with_sentences(self, texts, spans):
        from index.embed import encode_chunks

        keys = [(t, tuple(map(tuple, s))) for t, s in zip(texts, spans, strict=True)]
        missing = [k for k in dict.fromkeys(keys) if k not in self._chunks]
        if missing:
            vectors, sentences = encode_chunks(self._encoder, [t for t, _ in missing], [list(s) for _, s in missing])
            for k, v, s in zip(missing, vectors, sentences, strict=True):
                self._chunks[k] = (v, s)
        return np.stack([self._chunks[k][0] for k in keys]), [self._chunks[k][1] for k in keys]


def _questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]


def _ingest(location, items, encoder) -> float:
    from index.chunk import ChunkSettings
    from index.ingest import ingest_into, open_for_writing

    store = open_for_writing(location, encoder)
    started = time.perf_counter()
    try:
        ingest_into(store, items, encoder, ChunkSettings())
    finally:
        store.close()
    return time.perf_counter() - started


def _top_articles(answer, n: int = 5) -> list[str]:
    return list(dict.fromkeys(p.article_id for p in answer.passages))[:n]


def _drop(location: str) -> None:
    from index.backends import open_store

    store = open_store(location)
    store.drop()
    store.close()


def agree(server: str, encoder_name: str) -> dict:
    from assistant.engine import Assistant
    from eval.bench_ingest import first_articles
    from index.demo import demo_files
    from index.load import load_inputs

    if encoder_name == "fake":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes import FakeEncoder

        encoder = FakeEncoder(dim=384)
    else:
        from index.embed import load_encoder

        encoder = ReplayEncoder(load_encoder())
    corpora = {"demo": (lambda: load_inputs(demo_files()), DATA / "demo_questions.jsonl"),
               "bbc300": (lambda: first_articles(load_inputs([str(BBC)]), 300), DATA / "bbc_questions.jsonl")}
    out = {}
    for corpus, (items, questions_path) in corpora.items():
        folder = Path(tempfile.mkdtemp(prefix=f"bench-milvus-{corpus}-"))
        location = f"milvus://{server}/bench_{corpus}_{uuid.uuid4().hex[:6]}"
        seconds = {"embedded": _ingest(folder, items(), encoder), "milvus": _ingest(location, items(), encoder)}
        engines = {"embedded": Assistant.load(folder, encoder=encoder),
                   "milvus": Assistant.load(location, encoder=encoder)}
        questions = _questions(questions_path)
        same, exact, sentences, same_text = 0, True, 0, 0
        for q in questions:
            answers = {name: engine.ask(q) for name, engine in engines.items()}
            same += _top_articles(answers["embedded"]) == _top_articles(answers["milvus"])
            same_text += answers["embedded"].text == answers["milvus"].text
            for s in answers["milvus"].sentences:
                sentences += 1
                exact &= engines["milvus"].article(s.article_id).body[s.start:s.end] == s.text
        for engine in engines.values():
            engine.close()
        _drop(location)
        out[corpus] = {"questions": len(questions), "top5_agree": round(same / len(questions), 3),
                       "same_answer_text": round(same_text / len(questions), 3), "milvus_sentences": sentences,
                       "offsets_exact": bool(exact), "ingest_s": {k: round(v, 1) for k, v in seconds.items()},
                       "chunks": engines["embedded"].snapshot.size}
        print(corpus, out[corpus], flush=True)
    return out


def scale(server: str, dim: int, n_queries: int = 200) -> dict:
    from assistant.engine import Assistant
    from index.load import load_inputs
    from index.vectors import VectorIndex

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fakes import FakeEncoder

    encoder = FakeEncoder(dim=dim)
    folder = Path(tempfile.mkdtemp(prefix="bench-milvus-rtqa-"))
    location = f"milvus://{server}/bench_rtqa_{uuid.uuid4().hex[:6]}"
    seconds = {"embedded": _ingest(folder, load_inputs([str(RTQA)]), encoder),
               "milvus": _ingest(location, load_inputs([str(RTQA)]), encoder)}
    print("ingest", seconds, flush=True)
    engines = {}
    for name, where in (("embedded", folder), ("milvus", location)):
        started = time.perf_counter()
        engines[name] = Assistant.load(where, encoder=encoder)
        print(name, "load", round(time.perf_counter() - started, 1), "s", flush=True)
    snapshot = engines["embedded"].snapshot
    rng = np.random.default_rng(7)
    picks = rng.choice(snapshot.size, n_queries, replace=False)
    # questions: the first sentence of random chunks (a search for their topic)
    queries = [snapshot.chunk(int(p)).text.split(". ")[0][:200] for p in picks]
    latency = {}
    for name, engine in engines.items():
        engine.ask(queries[0])
        times = []
        for q in queries:
            started = time.perf_counter()
            engine.ask(q)
            times.append((time.perf_counter() - started) * 1000)
        latency[name] = {"p50_ms": round(float(np.percentile(times, 50)), 1),
                         "p95_ms": round(float(np.percentile(times, 95)), 1)}
    milvus = engines["milvus"].snapshot
    # exact neighbours over the very vectors Milvus holds, by chunk id
    ids = milvus.tables.chunk_ids
    rows = []
    collection = milvus.store._collection("chunks")
    last = -1
    while True:
        page = collection.query(f"chunk_id > {last}", output_fields=["chunk_id", "vector"], limit=16384,
                                consistency_level="Strong")
        rows += page
        if len(page) < 16384:
            break
        last = max(r["chunk_id"] for r in page)
    vector_of = {r["chunk_id"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}
    exact = VectorIndex.build(np.stack([vector_of[int(i)] for i in ids]), dim)
    recall = []
    for q in queries:
        v = encoder.encode([q])[0]
        truth = set(exact.search(v, 10)[0].tolist())
        found = set(milvus.search_dense(v, 10)[0].tolist())
        recall.append(len(truth & found) / max(1, len(truth)))
    for engine in engines.values():
        engine.close()
    _drop(location)
    out = {"chunks": int(snapshot.size), "dim": dim, "ingest_s": {k: round(v, 1) for k, v in seconds.items()},
           "ingest_ratio": round(seconds["milvus"] / seconds["embedded"], 2), "ask": latency,
           "recall@10": round(float(np.mean(recall)), 4)}
    print(out, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_milvus")
    parser.add_argument("--milvus", default="127.0.0.1:19530", help="HOST:PORT of a running Milvus")
    parser.add_argument("--json-out", type=Path, default=None)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("agree")
    p.add_argument("--encoder", choices=("fake", "real"), default="fake")
    p = sub.add_parser("scale")
    p.add_argument("--dim", type=int, default=384)
    args = parser.parse_args(argv)
    result = agree(args.milvus, args.encoder) if args.what == "agree" else scale(args.milvus, args.dim)
    if args.json_out:
        from eval.report import write_json

        write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
