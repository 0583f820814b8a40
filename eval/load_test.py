"""Load test (not a unit test): concurrent questions while another process ingests and removes.

    python -m eval.load_test [--articles PATH] [--subset 300] [--clients 10] [--seconds 60] [--fake-encoder]

Builds a fresh index (in a temp folder) from the first `--subset` articles minus a churn pool, then for
`--seconds` runs `--clients` threads asking questions through the Python API (one shared `Assistant`,
as the app does) while a second process (this module in writer mode) keeps ingesting batches from the
pool and removing earlier ones. Nothing listens on the network. Reports errors, latency p50/p95, how
soon answers used each new generation, the largest WAL seen, and checks every cited passage against
the generation its answer was read from: the article must be in that generation (the writer logs each
generation's article ids) and the passage text must be the article's own body[start:end].

Bounded: at most 50 clients and 600 seconds; the index lives in a temp folder that is deleted after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from eval.report import emit_json

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
MAX_CLIENTS, MAX_SECONDS = 50, 600


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=SHARED / "bbc_news" / "articles.jsonl",
                        help="a .jsonl of articles (default: the shared BBC corpus)")
    parser.add_argument("--subset", type=int, default=300, help="articles used (the first N)")
    parser.add_argument("--pool", type=float, default=0.3, help="share of them kept back for ingest/remove churn")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=5, help="articles per ingest in the writer")
    parser.add_argument("--fake-encoder", action="store_true", help="the tests' hashing encoder (no model)")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--writer", nargs=4, metavar=("INDEX", "POOL", "LEDGER", "UNTIL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer:
        return writer(*args.writer, batch=args.batch, fake=args.fake_encoder)
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--clients 1..{MAX_CLIENTS}, --seconds up to {MAX_SECONDS}")
    result = run(args)
    emit_json(result, args.json_out)


def encoder(fake: bool):
    if fake:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes import FakeEncoder

        return FakeEncoder()
    from index.embed import load_encoder

    return load_encoder()


def run(args) -> dict:
    from assistant.engine import Assistant
    from index.ingest import build_index

    records = [json.loads(line) for line in args.articles.read_text().splitlines() if line.strip()][: args.subset]
    random.Random(14).shuffle(records)
    n_pool = int(len(records) * args.pool)
    pool, base = records[:n_pool], records[n_pool:]
    bodies = {r["id"]: r for r in records}
    with tempfile.TemporaryDirectory(prefix="load-test-") as tmp:
        tmp = Path(tmp)
        index_dir, ledger = tmp / "index", tmp / "ledger.jsonl"
        (tmp / "base.jsonl").write_text("".join(json.dumps(r) + "\n" for r in base))
        (tmp / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool))
        enc = encoder(args.fake_encoder)
        started = time.perf_counter()
        report = build_index([str(tmp / "base.jsonl")], index_dir, enc)
        build_seconds = time.perf_counter() - started
        ledger.write_text(json.dumps({"generation": report.generation, "time": time.time(),
                                      "ids": [r["id"] for r in base]}) + "\n")
        engine = Assistant.load(index_dir, encoder=enc)
        for _ in range(3):
            engine.ask("warm up the engine")
        # Instrument: which generation each answer was read from (the snapshot `_ask` runs on).
        local = threading.local()
        real_ask = Assistant._ask

        def recording_ask(self, snapshot, *a, **k):
            local.generation = snapshot.generation
            return real_ask(self, snapshot, *a, **k)

        Assistant._ask = recording_ask
        questions = [r["title"] for r in records] + [
            " ".join(r["body"].split()[5:14]) for r in records[:100]]
        until = time.time() + args.seconds
        writer_cmd = [sys.executable, "-m", "eval.load_test", "--batch", str(args.batch), "--writer",
                      str(index_dir), str(tmp / "pool.jsonl"), str(ledger), str(until)]
        if args.fake_encoder:
            writer_cmd.append("--fake-encoder")
        writer_proc = subprocess.Popen(writer_cmd, cwd=Path(__file__).resolve().parents[1],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        latencies: list[float] = []
        errors: dict[str, int] = {}
        cited: list[tuple] = []
        used: dict[int, float] = {}  # generation -> first time an answer used it
        lock = threading.Lock()
        wal = index_dir / "index.sqlite-wal"
        wal_max = [0]

        def client(seed: int) -> None:
            rng = random.Random(seed)
            while time.time() < until:
                question = rng.choice(questions)
                t = time.perf_counter()
                try:
                    answer = engine.ask(question, k=5)
                except Exception as err:  # noqa: BLE001 - counted, the load goes on
                    with lock:
                        key = f"{type(err).__name__}: {err}"[:160]
                        errors[key] = errors.get(key, 0) + 1
                    continue
                elapsed = time.perf_counter() - t
                generation = local.generation
                with lock:
                    latencies.append(elapsed)
                    used.setdefault(generation, time.time())
                    for c in answer.cited:
                        p = c.passage
                        cited.append((generation, p.article_id, p.start, p.end, p.text))
                    for s in answer.sentences:
                        cited.append((generation, s.article_id, s.start, s.end, s.text))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            if wal.exists():
                wal_max[0] = max(wal_max[0], wal.stat().st_size)
            time.sleep(0.2)
        writer_out, writer_err = writer_proc.communicate(timeout=300)
        Assistant._ask = real_ask
        db_size = (index_dir / "index.sqlite").stat().st_size
        engine.close()

        generations = {}
        for line in ledger.read_text().splitlines():
            entry = json.loads(line)
            generations[entry["generation"]] = entry
        violations = []
        for generation, article_id, start, end, text in cited:
            ids = set(generations.get(generation, {}).get("ids", ()))
            if article_id not in ids:
                violations.append(f"generation {generation}: cited '{article_id}', not in that generation")
            elif not _passage_in_body(bodies[article_id], start, end, text):
                violations.append(f"generation {generation}: '{article_id}' [{start}:{end}] is not its text")
        lags = [used[g] - generations[g]["time"] for g in used if g in generations and g != min(generations)]
        writer_stats = json.loads(writer_out.strip().splitlines()[-1]) if writer_out.strip() else {}
        lat = np.array(latencies) * 1000
        return {
            "articles": len(records), "base": len(base), "pool": len(pool), "clients": args.clients,
            "seconds": args.seconds, "encoder": "fake" if args.fake_encoder else enc.name,
            "base_build_s": round(build_seconds, 1),
            "questions": len(latencies), "errors": sum(errors.values()), "error_kinds": errors,
            "questions_per_s": round(len(latencies) / args.seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
            "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
            "max_ms": round(float(lat.max()), 1) if len(lat) else None,
            "cited_checked": len(cited), "citation_violations": len(violations), "violations": violations[:10],
            "generations_committed": len(generations) - 1, "generations_answered_from": len(used),
            "reload_lag_s_p50": round(float(np.percentile(lags, 50)), 2) if lags else None,
            "reload_lag_s_max": round(float(max(lags)), 2) if lags else None,
            "wal_max_mb": round(wal_max[0] / 1e6, 2), "db_mb": round(db_size / 1e6, 2),
            "writer": writer_stats, "writer_stderr_tail": writer_err.strip().splitlines()[-3:],
        }


def _passage_in_body(record: dict, start: int, end: int, text: str) -> bool:
    """The stored body is the cleaned one: compare against the article as the store reads it back."""
    body = _clean_body(record)
    return body[start:end] == text


_CLEANED: dict[str, str] = {}


def _clean_body(record: dict) -> str:
    if record["id"] not in _CLEANED:
        from index.load import _make_article

        _CLEANED[record["id"]] = _make_article(record, record["id"], record["id"], None).body
    return _CLEANED[record["id"]]


def writer(index_dir: str, pool_path: str, ledger: str, until: str, batch: int, fake: bool) -> None:
    """Until `until`: ingest the next `batch` pool articles, then remove about half as many of those added
    before; after each commit, log the generation and its article ids."""
    from index.ingest import ingest_into, remove_articles
    from index.load import load_inputs
    from index.store import EmbeddedStore

    enc = encoder(fake)
    pool = [json.loads(line) for line in Path(pool_path).read_text().splitlines()]
    rng = random.Random(7)
    stats = {"ingests": 0, "removals": 0, "added": 0, "removed": 0, "errors": 0}
    added: list[str] = []
    cursor = 0
    tmp = Path(tempfile.mkdtemp(prefix="load-writer-"))

    def log(store) -> None:
        snapshot_ids = [r[0] for r in store.conn.execute("SELECT id FROM articles")]
        with open(ledger, "a") as handle:
            handle.write(json.dumps({"generation": store.generation(), "time": time.time(),
                                     "ids": snapshot_ids}) + "\n")

    from index.chunk import ChunkSettings

    store = EmbeddedStore.open(index_dir)
    settings = ChunkSettings(**store.manifest.chunking)
    while time.time() < float(until):
        try:
            if cursor < len(pool) and (len(added) < batch or rng.random() < 0.6):
                path = tmp / f"batch-{cursor}.jsonl"
                chunk = pool[cursor:cursor + batch]
                cursor += batch
                path.write_text("".join(json.dumps(r) + "\n" for r in chunk))
                with store.writer():
                    report = ingest_into(store, load_inputs([str(path)]), enc, settings)
                    log(store)
                added += report.added
                stats["ingests"] += 1
                stats["added"] += len(report.added)
            elif added:
                victims = rng.sample(added, min(len(added), max(1, batch // 2)))
                with store.writer():
                    removed, _ = remove_articles(store, victims)
                    log(store)
                added = [a for a in added if a not in removed]
                stats["removals"] += 1
                stats["removed"] += len(removed)
            else:
                break
        except Exception as err:  # noqa: BLE001 - counted and reported
            stats["errors"] += 1
            print(f"writer: {type(err).__name__}: {err}", file=sys.stderr)
        time.sleep(0.2)
    store.close()
    print(json.dumps(stats))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
