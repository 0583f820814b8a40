"""The Milvus backend against the embedded store: same answers, ingest time, answer latency, recall.

    nice python -m eval.bench_milvus --milvus 127.0.0.1:19530 agree --encoder fake|real
    nice python -m eval.bench_milvus --milvus 127.0.0.1:19530 scale [--dim 384]
    nice python -m eval.bench_milvus --milvus 127.0.0.1:19530 scale --vectors-from INDEX_DIR

`agree`: the demo corpus and the first 300 BBC articles in both stores, every question of
eval/data/demo_questions.jsonl and bbc_questions.jsonl asked of both: the share whose top-5 articles
agree (same ids, same order), and whether every Milvus answer sentence is its article's body at its
offsets. The real encoder's vectors are computed once and replayed for the second store.
`scale`: RealTime QA (all articles, ~30k chunks): ingest seconds per store, answer p50/p95 per store
through Assistant.ask, the HNSW's recall@10 against exact search (FAISS flat over the same vectors),
and how long two replica processes take to see a third process's ingest. Without --vectors-from the
fake encoder at 384 dimensions; with it, the bundled model: chunk vectors are replayed from an embedded
index that model built over the same articles (`StoredVectors`, so the ~15-minute embedding is not run
twice), questions are embedded by the model at ask time, and the embedding time of the whole corpus is
measured on a sample of its chunks and added to both stores' times for the end-to-end ratio.
A Milvus server must be running (python -m index.milvus_server).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[1]
# ../shared/datasets beside the checkout; a git worktree sits one level deeper than the main checkout
SHARED = next((p for p in (ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets")
               if p.is_dir()), ROOT.parent / "shared" / "datasets")
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


class StoredVectors:
    """The model for questions; for chunks, the vectors (and pooled sentence vectors) that the same model
    stored in an embedded index's cache, looked up by the embedded text's hash. Texts the cache lacks go
    to the model (counted in `misses`). Opened immutable: the source index is never written."""

    def __init__(self, encoder, index_dir: Path):
        import sqlite3

        self._encoder, self.name, self.dim = encoder, encoder.name, encoder.dim
        self._conn = sqlite3.connect(f"file:{Path(index_dir).resolve() / 'index.sqlite'}?immutable=1", uri=True,
                                     check_same_thread=False)
        self.served: list[tuple[str, list]] = []  # (text, spans) of every chunk served, to time the model on
        self.misses = 0

    def __getattr__(self, name):
        return getattr(self._encoder, name)

    def encode(self, texts):
        return self._encoder.encode(texts)

    def encode_with_sentences(self, texts, spans):
        from index.articles import text_hash
        from index.embed import encode_chunks

        vectors, sentences = [], []
        for text, text_spans in zip(texts, spans, strict=True):
            self.served.append((text, list(text_spans)))
            row = self._conn.execute("SELECT vector, sentence_vectors FROM vectors WHERE hash = ?",
                                     (text_hash(text),)).fetchone()
            if row is None:
                self.misses += 1
                v, sv = encode_chunks(self._encoder, [text], [list(text_spans)])
                vectors.append(v[0])
                sentences.append(sv[0])
                continue
            vectors.append(np.frombuffer(row[0], dtype=np.float32))
            sentences.append(np.frombuffer(row[1], dtype=np.float16).reshape(-1, self.dim).astype(np.float32))
        return np.stack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32), sentences


def embedding_seconds(encoder: StoredVectors, sample: int = 1000, seed: int = 7) -> dict:
    """The model's time for every chunk one ingest embedded, from a random sample scaled by tokens (chunks
    sorted by length in batches of 64, as ingest does); and the sample's agreement with the replayed
    vectors (cosine), which shows the replay is the same model."""
    from index.embed import encode_chunks
    from index.ingest import EMBED_BATCH

    served = list({t: (t, s) for t, s in encoder.served}.values())
    rng = np.random.default_rng(seed)
    picks = sorted((served[i] for i in rng.choice(len(served), min(sample, len(served)), replace=False)),
                   key=lambda item: len(item[0]))
    model = encoder._encoder
    started = time.perf_counter()
    computed = []
    for i in range(0, len(picks), EMBED_BATCH):
        batch = picks[i:i + EMBED_BATCH]
        computed.append(encode_chunks(model, [t for t, _ in batch], [s for _, s in batch])[0])
    seconds = time.perf_counter() - started
    replayed, _ = encoder.encode_with_sentences([t for t, _ in picks], [s for _, s in picks])
    cosine = np.sum(np.concatenate(computed) * replayed, axis=1)
    tokens_sample = sum(model.count_tokens([t for t, _ in picks]))
    tokens_all = sum(model.count_tokens([t for t, _ in served]))
    return {"sample_chunks": len(picks), "sample_s": round(seconds, 1), "chunks": len(served),
            "tokens": int(tokens_all), "all_s": round(seconds * tokens_all / max(1, tokens_sample), 1),
            "replay_cosine_min": round(float(cosine.min()), 4)}


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


def _remove(location: str, article_id: str) -> None:
    from index.backends import open_store
    from index.ingest import remove_articles

    store = open_store(location)
    try:
        remove_articles(store, [article_id])
    finally:
        store.close()


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


def _rtqa_questions(n: int) -> list[tuple[str, str]]:
    """(question, question_date) of the first n RealTime QA questions."""
    rows = [json.loads(line) for line in (RTQA.parent / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [(r["question"], r.get("question_date")) for r in rows[:n]]


def _latency(engines: dict, questions: list[tuple[str, str]]) -> dict:
    """Each question asked of every engine in turn (the order rotating), so that both stores meet the same
    load on a shared machine: p50/p95 per engine, the median of each stage (answer.timings), and the
    share of questions whose top-5 articles agree with the first engine's."""
    for engine in engines.values():
        engine.ask(questions[0][0], as_of=questions[0][1])  # the first question pays for lazy loads
    names = list(engines)
    times: dict[str, list[float]] = {n: [] for n in names}
    stages: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    tops: dict[str, list[list[str]]] = {n: [] for n in names}
    for i, (question, asked_on) in enumerate(questions):
        for name in names[i % len(names):] + names[:i % len(names)]:
            started = time.perf_counter()
            answer = engines[name].ask(question, as_of=asked_on)
            times[name].append((time.perf_counter() - started) * 1000)
            for stage, seconds in answer.timings.items():
                stages[name].setdefault(stage, []).append(seconds * 1000)
            tops[name].append(_top_articles(answer))
    return {name: {"p50_ms": round(float(np.percentile(times[name], 50)), 1),
                   "p95_ms": round(float(np.percentile(times[name], 95)), 1),
                   "stages_p50_ms": {k: round(float(np.median(v)), 1) for k, v in stages[name].items()},
                   "top5_agree": round(float(np.mean([a == b for a, b in zip(tops[names[0]], tops[name],
                                                                             strict=True)])), 3)}
            for name in names} | {"load_average": [round(x, 1) for x in os.getloadavg()]}


def _recall(milvus_snapshot, vectors: np.ndarray, dim: int, ef: int | None = None) -> float:
    """HNSW recall@10 against exact inner-product search over the very vectors Milvus holds."""
    import index.milvus as backend
    from index.vectors import VectorIndex

    collection = milvus_snapshot.store._collection("chunks")
    rows, last = [], -1
    while True:
        page = collection.query(f"chunk_id > {last}", output_fields=["chunk_id", "vector"], limit=16384,
                                consistency_level="Strong")
        rows += page
        if len(page) < 16384:
            break
        last = max(r["chunk_id"] for r in page)
    vector_of = {r["chunk_id"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}
    exact = VectorIndex.build(np.stack([vector_of[int(i)] for i in milvus_snapshot.tables.chunk_ids]), dim)
    saved = backend.MIN_EF
    backend.MIN_EF = ef or saved
    try:
        recall = []
        for v in vectors:
            truth = set(exact.search(v, 10)[0].tolist())
            found = set(milvus_snapshot.search_dense(v, 10)[0].tolist())
            recall.append(len(truth & found) / max(1, len(truth)))
    finally:
        backend.MIN_EF = saved
    return round(float(np.mean(recall)), 4)


REPLICA = """
import json, sys, time
from assistant.engine import Assistant
engine = Assistant.load(sys.argv[1])
engine.ask("warm up")
print("ready", flush=True)
sys.stdin.readline()
while True:
    answer = engine.ask(sys.argv[2])
    if answer.passages and answer.passages[0].article_id == sys.argv[3]:
        break
    time.sleep(0.02)
print(json.dumps({"seen_at": time.time(), "ranking": [p.article_id for p in answer.passages], "text": answer.text}),
      flush=True)
"""

WRITER = """
import sys, time
from index.embed import load_encoder
from index.ingest import build_index
encoder = load_encoder()
started = time.time()
build_index([sys.argv[2]], sys.argv[1], encoder)
print(started, time.time(), flush=True)
"""


def replicas(location: str, timeout: float = 120.0) -> dict:
    """Two app processes (own working folders, the model for questions) on one Milvus; a third process
    ingests a new article; seconds from the end of its commit until each replica's answer ranks it first."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bench-milvus-replicas-"))
    token = f"Kv{uuid.uuid4().hex[:6]}"  # a new story each run, found by its made-up cable name
    article_id = f"bench-cable-{token.lower()}"
    article = work / "cable.md"
    article.write_text(f"---\nid: {article_id}\ntitle: Undersea cable {token} reaches the Faroe Islands\n"
                       f"published_at: 2022-06-30\n---\nThe new undersea data cable {token} reached the Faroe "
                       "Islands on Thursday, the islands' telecom operator said, doubling their capacity.\n")
    question = f"Which islands did the undersea cable {token} reach?"
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", str(work))}
    procs = []
    for n in range(2):
        cwd = work / f"replica{n}"
        cwd.mkdir()
        procs.append(subprocess.Popen([sys.executable, "-c", REPLICA, location, question, article_id], cwd=cwd,
                                      env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
    try:
        ready = [p.stdout.readline().strip() for p in procs]
        assert ready == ["ready", "ready"], ready
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        cwd = work / "writer"
        cwd.mkdir()
        out = subprocess.run([sys.executable, "-c", WRITER, location, str(article)], cwd=cwd, env=env, text=True,
                             capture_output=True, timeout=timeout, check=True).stdout.split()
        started, committed = float(out[0]), float(out[1])
        seen = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
        _remove(location, article_id)  # NAME as it was, for the next run's latency and agreement
    return {"writer_ingest_s": round(committed - started, 2),
            "seen_after_commit_s": [round(s["seen_at"] - committed, 2) for s in seen],
            "same_answer": seen[0]["text"] == seen[1]["text"] and seen[0]["ranking"] == seen[1]["ranking"]}


def scale(server: str, dim: int, n_queries: int = 200, vectors_from: Path | None = None,
          reuse: tuple[str, str] | None = None, keep: bool = False) -> dict:
    from assistant.engine import Assistant
    from index.load import load_inputs

    if vectors_from is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes import FakeEncoder

        encoder = FakeEncoder(dim=dim)
    else:
        from index.embed import load_encoder

        encoder = StoredVectors(load_encoder(), vectors_from)
        dim = encoder.dim
    if not RTQA.is_file():
        raise SystemExit(f"{RTQA}: RealTime QA articles not found (../shared/datasets beside the checkout)")
    out = {"chunks": 0, "dim": dim, "encoder": encoder.name}
    if reuse is not None:  # the two stores of an earlier run: measure everything but the ingest
        folder, location = Path(reuse[0]), f"milvus://{server}/{reuse[1]}"
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-milvus-rtqa-"))
        location = f"milvus://{server}/bench_rtqa_{uuid.uuid4().hex[:6]}"
        print("stores", folder, location, flush=True)
        seconds = {"embedded": _ingest(folder, load_inputs([str(RTQA)]), encoder)}
        print("ingest embedded", seconds, flush=True)
        seconds["milvus"] = _ingest(location, load_inputs([str(RTQA)]), encoder)
        print("ingest", seconds, flush=True)
        out["ingest_s"] = {k: round(v, 1) for k, v in seconds.items()}
        out["ingest_ratio_stores"] = round(seconds["milvus"] / seconds["embedded"], 2)
    if vectors_from is not None and reuse is None:
        out["replay_misses"] = encoder.misses
        embed = embedding_seconds(encoder)
        out["embedding"] = embed
        out["ingest_ratio_with_embedding"] = round((seconds["milvus"] + embed["all_s"])
                                                   / (seconds["embedded"] + embed["all_s"]), 3)
        print("embedding", embed, flush=True)
    engines = {}
    for name, where in (("embedded", folder), ("milvus", location)):
        started = time.perf_counter()
        engines[name] = Assistant.load(where, encoder=encoder)
        out[f"load_{name}_s"] = round(time.perf_counter() - started, 1)
    out["chunks"] = int(engines["embedded"].snapshot.size)
    if vectors_from is not None:
        questions = _rtqa_questions(n_queries)
    else:
        snapshot = engines["embedded"].snapshot
        picks = np.random.default_rng(7).choice(snapshot.size, n_queries, replace=False)
        questions = [(snapshot.chunk(int(p)).text.split(". ")[0][:200], None) for p in picks]
    out["ask"] = _latency(engines, questions)
    print("ask", out["ask"], flush=True)
    vectors = encoder.encode([q for q, _ in questions])
    out["recall@10"] = {f"ef={ef}": _recall(engines["milvus"].snapshot, vectors, dim, ef) for ef in (64, 128)}
    print("recall", out["recall@10"], flush=True)
    for engine in engines.values():
        engine.close()
    if vectors_from is not None:
        out["replicas"] = replicas(location)
        print("replicas", out["replicas"], flush=True)
    if keep:
        print("kept", folder, location, flush=True)
    else:
        _drop(location)
    print(out, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_milvus")
    parser.add_argument("--milvus", default="127.0.0.1:19530", help="HOST:PORT of a running Milvus")
    parser.add_argument("--json-out", type=Path, default=None)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("agree")
    p.add_argument("--encoder", choices=("fake", "real"), default="fake")
    p = sub.add_parser("replicas", help="only the replicas' measurement, on an existing NAME")
    p.add_argument("name")
    p = sub.add_parser("scale")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--vectors-from", type=Path, default=None,
                   help="an embedded index the bundled model built over the same articles: replay its vectors")
    p.add_argument("--reuse", nargs=2, metavar=("INDEX_DIR", "NAME"), default=None,
                   help="the embedded index and Milvus NAME of an earlier run (--keep): skip the ingests")
    p.add_argument("--keep", action="store_true", help="keep the Milvus collections (for --reuse)")
    args = parser.parse_args(argv)
    if args.what == "agree":
        result = agree(args.milvus, args.encoder)
    elif args.what == "replicas":
        result = replicas(f"milvus://{args.milvus}/{args.name}")
        print(result, flush=True)
    else:
        result = scale(args.milvus, args.dim, args.questions, args.vectors_from, args.reuse,
                       args.keep or args.reuse is not None)
    if args.json_out:
        from eval.report import write_json

        write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
