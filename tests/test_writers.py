"""One writer at a time per index, across processes (issue 14, case 9): the writer lock is held for the
whole ingest or removal, so two ingests of one text under two ids store it once; the second waits with a
one-line message, or with --no-wait exits 1 at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.ingest import build_index
from index.store import EmbeddedStore, IndexBusy
from tests.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[1]
BODY = "The council approved the new harbour budget on Monday. Residents asked for more parks."

WORKER = r'''
import json, sys, time
from pathlib import Path

cfg = json.loads(sys.argv[1])
sys.path.insert(0, cfg["repo"])
import assistant.commands
from assistant.cli import main
from tests.fakes import FakeEncoder


class SlowEncoder(FakeEncoder):
    """Says when it first runs (the writer lock is held by then), then takes its time."""

    def encode(self, texts):
        marker = Path(cfg["marker"])
        if not marker.exists():
            marker.write_text("embedding")
        time.sleep(cfg["sleep"])
        return super().encode(texts)


assistant.commands.encoder_for = lambda args: SlowEncoder()
sys.exit(main(cfg["argv"]))
'''


def start(tmp_path: Path, name: str, argv: list[str], sleep: float) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    marker = tmp_path / f"{name}.embedding"
    cfg = {"repo": str(REPO), "argv": argv, "marker": str(marker), "sleep": sleep}
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(cfg)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, marker


def wait_for(path: Path, proc: subprocess.Popen, limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"worker exited early ({proc.returncode}): {proc.stderr.read()}")
        assert time.monotonic() < deadline, "worker never started embedding"
        time.sleep(0.02)


@pytest.fixture
def setup(tmp_path):
    index_dir = tmp_path / "index"
    seed = tmp_path / "seed.txt"
    seed.write_text("Zoo welcomes giraffe\n\nThe city zoo welcomed a baby giraffe on Monday.\n")
    build_index([str(seed)], index_dir, FakeEncoder())
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_text(json.dumps({"id": "one", "title": "Budget approved", "body": BODY}) + "\n")
    two.write_text(json.dumps({"id": "two", "title": "Budget approved", "body": BODY}) + "\n")
    return index_dir, one, two


def stored_ids(index_dir: Path) -> list[str]:
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        return sorted(a.id for a in snapshot.articles())
    finally:
        snapshot.close()


def test_second_ingest_waits_and_the_duplicate_check_holds(tmp_path, setup):
    index_dir, one, two = setup
    first, marker = start(tmp_path, "first", ["ingest", "--no-progress", "--index", str(index_dir), str(one)], 2.0)
    wait_for(marker, first)  # the first ingest holds the writer lock and has read the stored hashes
    second, _ = start(tmp_path, "second", ["ingest", "--no-progress", "--index", str(index_dir), str(two)], 0.0)
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 1, err2  # nothing added: its only article is a duplicate
    assert f"waiting for another ingest into {index_dir} to finish" in err2.splitlines()
    assert "added 1" in out1
    assert "added 0" in out2 and "'two' is a duplicate of 'one' (same text)" in out2
    assert stored_ids(index_dir) == ["one", "seed"]


@pytest.mark.parametrize("command", ["ingest", "remove"])
def test_no_wait_refuses_with_exit_1(tmp_path, setup, command):
    index_dir, one, two = setup
    first, marker = start(tmp_path, "first", ["ingest", "--no-progress", "--index", str(index_dir), str(one)], 1.5)
    wait_for(marker, first)
    argv = (["ingest", "--no-progress", str(two)] if command == "ingest" else ["remove", "seed"])
    second, _ = start(tmp_path, "second", [*argv, "--no-wait", "--index", str(index_dir)], 0.0)
    out2, err2 = second.communicate(timeout=120)
    first.communicate(timeout=120)
    assert second.returncode == 1 and "Traceback" not in err2
    assert err2.strip().splitlines() == [
        f"error: {index_dir}: another ingest or removal is running on this index; try again when it has finished "
        "(or without --no-wait to wait for it)"]
    assert stored_ids(index_dir) == ["one", "seed"]


def test_writer_lock_in_process(setup):
    """Within one process: re-entrant in one thread, and a second store on the index is refused without waiting."""
    index_dir, _, _ = setup
    store, other = EmbeddedStore.open(index_dir), EmbeddedStore.open(index_dir)
    try:
        with store.writer(), store.writer(), pytest.raises(IndexBusy), other.writer(wait=False):
            pass
        with other.writer(wait=False):
            pass
    finally:
        store.close()
        other.close()
