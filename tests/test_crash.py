"""Crash safety: an ingest killed with SIGKILL at any moment leaves the index as it was, or complete, never partial.

A worker process ingests many generated articles (and one changed one) into an existing index with a slow fake
encoder; it is killed after fixed delays, or while it holds at a hook inside the commit (the transaction half
written, the database committed but no derived file written, the derived files half replaced). The index must
then open, pass SQLite's integrity check, hold the old article set or the complete new one, and FAISS, BM25 and
SQLite must agree; a search must work and a later ingest must finish the job. (The derived indexes are updated in place
from a change log in the database: see index/store.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.ingest import build_index, open_for_writing
from index.store import artifact_paths
from tests.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[1]
N_NEW = 150

WORKER = r'''
import json, sys, time
from pathlib import Path

cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["repo"])
import index.database as db
import index.store as store_module
from index.ingest import build_index
from tests.fakes import FakeEncoder

marker = Path(cfg["marker"])


def hold(name):
    (marker / name).write_text("here")
    time.sleep(600)  # until killed


class SlowEncoder(FakeEncoder):
    def encode(self, texts):
        time.sleep(cfg["sleep"])
        return super().encode(texts)


mode = cfg["mode"]
if mode == "in transaction":  # some articles inserted, no COMMIT yet
    real_insert, inserted = db.insert_article, []

    def insert_article(*args, **kwargs):
        real_insert(*args, **kwargs)
        inserted.append(1)
        if len(inserted) == cfg["after"]:
            hold("hook")

    db.insert_article = insert_article
elif mode == "after commit":  # the database is committed, neither derived index updated yet
    store_module.update_derived = lambda *args, **kwargs: hold("hook")
elif mode == "during keyword update":  # the keyword index committed, its checksums and change number not yet
    real_apply = store_module.KeywordIndex.apply

    def apply(self, *args, **kwargs):
        real_apply(self, *args, **kwargs)
        hold("hook")

    store_module.KeywordIndex.apply = apply
elif mode == "during dense compaction":  # a new dense base file written beside the old one, not yet swapped in
    store_module.COMPACT_MIN = 1
    real_replace = Path.replace

    def replace(self, target):
        if Path(target).name == "dense.faiss":
            hold("hook")
        return real_replace(self, target)

    Path.replace = replace

(marker / "ready").write_text("ready")
report = build_index(cfg["inputs"], cfg["index"], SlowEncoder())
(marker / "done").write_text(json.dumps(report.added))
'''


def base_articles() -> list[dict]:
    animals = ["giraffe", "penguin", "walrus", "flamingo", "tortoise"]
    return [{"id": f"base-{i}", "title": f"Zoo news about the {a}",
             "body": f"The city zoo welcomed a {a} on Monday. Keepers said the {a} settled in quickly. "
                     f"Visitors queued to see the {a} all afternoon."} for i, a in enumerate(animals)]


def new_articles() -> list[dict]:
    records = [{"id": f"new-{i:03d}", "title": f"Council report {i}",
                "body": f"Report {i} covers ward{i} spending in detail. The council approved item{i} after debate. "
                        f"Residents of ward{i} asked for more parks. Officials promised an answer by spring."}
               for i in range(N_NEW)]
    changed = dict(base_articles()[0], body="The giraffe moved to a new enclosure on Friday. Keepers built a "
                                            "taller feeding platform for the giraffe.")
    return records + [changed]


@pytest.fixture(scope="module")
def base_index(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crash-base")
    source = folder / "base.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in base_articles()))
    report = build_index([str(source)], folder / "index", FakeEncoder())
    assert len(report.added) == 5
    return folder / "index"


@pytest.fixture
def setup(tmp_path, base_index):
    index_dir = tmp_path / "index"
    shutil.copytree(base_index, index_dir)
    inputs = tmp_path / "new.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in new_articles()))
    marker = tmp_path / "marker"
    marker.mkdir()
    return index_dir, inputs, marker


BEFORE = {r["id"] for r in base_articles()}
AFTER = BEFORE | {r["id"] for r in new_articles()}
OLD_GIRAFFE = base_articles()[0]["body"]
NEW_GIRAFFE = new_articles()[-1]["body"]


def start_worker(index_dir: Path, inputs: Path, marker: Path, mode: str, sleep: float, after: int = 0):
    cfg = {"repo": str(REPO), "index": str(index_dir), "inputs": [str(inputs)], "marker": str(marker),
           "mode": mode, "sleep": sleep, "after": after}
    script = marker.parent / "worker.py"
    script.write_text(WORKER)
    log = open(marker.parent / "worker.log", "wb")  # noqa: SIM115 - closed by the caller through proc.log
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(cfg)], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def wait_for(path: Path, proc, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            log = (path.parent.parent / "worker.log").read_text(errors="replace")
            pytest.fail(f"worker exited ({proc.returncode}) before {path.name}:\n{log}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"worker never reached {path.name}")
        time.sleep(0.02)


def kill(proc) -> None:
    assert proc.poll() is None, "the worker finished before it could be killed: the test would prove nothing"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.log.close()


def check_index(index_dir: Path) -> set[str]:
    """Open after the crash, check consistency and search; return the article ids."""
    conn = sqlite3.connect(index_dir / "index.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    encoder = FakeEncoder()
    store = open_for_writing(index_dir, encoder)  # same manifest: opens without IndexMismatch
    snapshot = store.snapshot()
    try:
        ids = {a.id for a in snapshot.articles()}
        assert ids in (BEFORE, AFTER), f"partial index: {len(ids)} articles"
        n_chunks = store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        assert snapshot.size == snapshot.vectors.size == snapshot.keywords.size == n_chunks
        assert all(info.n_chunks >= 1 for info in snapshot.articles())
        for position in range(snapshot.size):
            chunk = snapshot.chunk(position)
            assert snapshot.article(chunk.article_id).body[chunk.start:chunk.end] == chunk.text
        # the changed article is old exactly when the rest is old
        assert snapshot.article("base-0").body == (OLD_GIRAFFE if ids == BEFORE else NEW_GIRAFFE)
        positions, _ = snapshot.search_keyword("walrus", 3)
        assert [snapshot.chunk(int(p)).article_id for p in positions] == ["base-2"]
        positions, _ = snapshot.search_dense(encoder.encode(["zoo keepers penguin visitors"])[0], 1)
        assert snapshot.chunk(int(positions[0])).article_id == "base-1"
        if ids == AFTER:
            positions, _ = snapshot.search_keyword("ward77", 3)
            assert [snapshot.chunk(int(p)).article_id for p in positions] == ["new-077"]
        return ids
    finally:
        snapshot.close()
        store.close()


def finish_and_check(index_dir: Path, inputs: Path) -> None:
    """After recovery, the same ingest completes normally and leaves only the current derived files."""
    build_index([str(inputs)], index_dir, FakeEncoder())
    assert check_index(index_dir) == AFTER
    store = open_for_writing(index_dir, FakeEncoder())
    generation = store.stats().generation
    store.close()
    derived = sorted(p.name for p in index_dir.iterdir() if p.name.startswith(("dense", "keyword")))
    assert derived == sorted([*(p.name for p in artifact_paths(index_dir, generation)), "dense.json", "keyword.json"])


def test_uninterrupted_worker_completes(setup):
    """The worker itself works: without a kill it stores the complete new set (so the kills below mean something)."""
    index_dir, inputs, marker = setup
    proc = start_worker(index_dir, inputs, marker, "none", sleep=0.0)
    assert proc.wait(timeout=300) == 0, (marker.parent / "worker.log").read_text()
    proc.log.close()
    assert set(json.loads((marker / "done").read_text())) == AFTER - BEFORE
    assert check_index(index_dir) == AFTER


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.0])
def test_kill_during_ingest(setup, delay):
    index_dir, inputs, marker = setup
    proc = start_worker(index_dir, inputs, marker, "none", sleep=0.4)  # ≥ 10 encoder calls: ≥ 4 s of work
    wait_for(marker / "ready", proc)
    time.sleep(delay)
    kill(proc)
    assert check_index(index_dir) == BEFORE  # killed long before the commit point
    finish_and_check(index_dir, inputs)


@pytest.mark.parametrize(("mode", "expected"), [
    ("in transaction", BEFORE),  # rows written, not committed: rolled back
    ("after commit", AFTER),  # committed: the derived indexes replay the logged changes on open
    ("during keyword update", AFTER),  # keyword files newer than their checksums: rebuilt, with a notice
    ("during dense compaction", AFTER),  # new base file not swapped in: the old one replays the changes
])
def test_kill_inside_the_commit(setup, mode, expected):
    index_dir, inputs, marker = setup
    proc = start_worker(index_dir, inputs, marker, mode, sleep=0.0, after=N_NEW // 2)
    wait_for(marker / "hook", proc)
    kill(proc)
    assert check_index(index_dir) == expected
    finish_and_check(index_dir, inputs)
