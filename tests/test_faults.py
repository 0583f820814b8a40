"""Faults of the store (issue 14): a full disk at each write, a damaged or deleted database, a manifest naming
another model or dimension, and a running engine next to other processes' commits. Each ends in one line naming
the file and the problem, a non-zero exit where the command failed, and nothing stored lost."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

import assistant.commands
import assistant.engine as engine_module
import index.store as store_module
from assistant.cli import main
from assistant.engine import Assistant
from index.ingest import build_index, open_for_writing, remove_articles
from index.keywords import KeywordIndex
from index.manifest import MANIFEST_NAME
from index.store import EmbeddedStore, IndexDamaged, StoreError, artifact_paths
from index.vectors import VectorIndex
from tests.fakes import FakeEncoder

NEW = "Bridge reopens\n\nThe harbour bridge reopened on Tuesday. Engineers replaced the rusty cables.\n"


def new_file(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.txt"
    path.write_text(NEW)
    return path


def ids(index_dir: Path) -> set[str]:
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        assert snapshot.size == snapshot.vectors.size == snapshot.keywords.size
        return {a.id for a in snapshot.articles()}
    finally:
        snapshot.close()


def error_line(err: str) -> str:
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ")
    return line


def derived_files(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(("dense", "keyword")))


# --- cases 1 and 2: a full disk ---------------------------------------------------------------------------------


def full_disk_faiss(self, path):
    """What faiss does on a full disk (seen writing to /dev/full): part of the file, then a RuntimeError."""
    Path(path).write_bytes(b"IxFI" + b"\x00" * 100)
    raise RuntimeError("Error in void faiss::write_index(const Index*, IOWriter*, int) at /project/faiss/impl/"
                       "index_write.cpp:499: Error: 'ret == (size * 4)' failed: write error in "
                       f"{path}: 4051 != 32000 (No space left on device)")


_real_keyword_apply = KeywordIndex.apply


def full_disk_keywords(self, additions, removals):
    """The keyword folder's disk is full; an in-memory index (the fallback) still works."""
    if self.folder is None:
        return _real_keyword_apply(self, additions, removals)
    raise OSError(28, "No space left on device", str(Path(self.folder) / "meta.json"))


@pytest.mark.parametrize("which", ["faiss", "bm25"])
def test_disk_full_writing_derived_files_after_the_commit(news, tmp_path, cli, monkeypatch, which):
    """Case 1: the ingest is committed; the command says so, exits 1, and the index keeps serving (from
    memory while the disk stays full, from rebuilt files once there is room)."""
    if which == "faiss":  # the dense base file is written when changes pile up: make this commit one of those
        monkeypatch.setattr(store_module, "COMPACT_MIN", 0)
        monkeypatch.setattr(store_module, "COMPACT_FRACTION", 0.0)
        monkeypatch.setattr(VectorIndex, "save", full_disk_faiss)
    else:
        monkeypatch.setattr(KeywordIndex, "apply", full_disk_keywords)
    code, out, err = cli("ingest", "--no-progress", "--index", str(news), str(new_file(tmp_path)))
    assert code == 1
    assert "added 1" in out  # what was stored is still reported
    line = error_line(err)
    assert "the change is stored (generation 2)" in line
    failed = "dense.faiss.tmp" if which == "faiss" else "keyword/meta.json"
    assert f"{news}/{failed}: No space left on device" in line
    assert "rebuilt from the database" in line
    # the disk stays full: listing and asking still work, from the database
    code, out, _ = cli("articles", "--index", str(news))
    assert code == 0 and "bridge" in out
    code, out, _ = cli("ask", "rusty cables on the harbour bridge", "--index", str(news), "--json")
    assert code == 0 and json.loads(out)["passages"][0]["article_id"] == "bridge"
    # room again: the next open writes the current generation's files
    monkeypatch.undo()
    assert ids(news) == {"ibm", "amazon", "weather", "bridge"}
    assert derived_files(news) == sorted([*(p.name for p in artifact_paths(news, 2)), "dense.json", "keyword.json"])


class FailingCommit:
    """A connection whose COMMIT hits a full disk the way SQLite does: it rolls the transaction back itself,
    then reports SQLITE_FULL (so a second ROLLBACK would fail with 'no transaction is active')."""

    def __init__(self, conn, on: str = "COMMIT"):
        self._conn, self._on, self.failed = conn, on, 0

    def execute(self, sql, *args):
        if sql == self._on:
            self._conn.execute("ROLLBACK")
            self.failed += 1
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_disk_full_at_the_commit_is_one_line_and_nothing_changes(news, tmp_path, fake_encoder):
    """Case 2: no masking 'cannot rollback' message; the index is exactly as before, and usable."""
    store = open_for_writing(news, fake_encoder)
    store.conn = FailingCommit(store.conn)
    from index.ingest import ingest_into
    from index.load import load_inputs
    with pytest.raises(StoreError) as err:
        ingest_into(store, load_inputs([str(new_file(tmp_path))]), fake_encoder, _settings(store))
    message = str(err.value)
    assert "\n" not in message and "cannot rollback" not in message
    assert message.startswith(f"{news / 'index.sqlite'}: disk full") and "while caching embeddings" in message
    store.close()
    assert ids(news) == {"ibm", "amazon", "weather"}


def test_disk_full_at_the_final_commit(news, tmp_path, fake_encoder):
    store = open_for_writing(news, fake_encoder)
    # the embeddings are cached already, so the only transaction left is the commit of the articles
    build_index([str(new_file(tmp_path))], tmp_path / "other", fake_encoder)  # (warms nothing in `news`)
    real = store.conn
    store.conn = FailingCommit(real)
    store.cache_vectors = lambda items: None  # skip the cache: the failure must come at the articles' COMMIT
    from index.ingest import ingest_into
    from index.load import load_inputs
    with pytest.raises(StoreError, match="disk full .* while committing; nothing of this change was stored"):
        ingest_into(store, load_inputs([str(new_file(tmp_path))]), fake_encoder, _settings(store))
    assert store.conn.failed == 1 and not real.in_transaction
    store.close()
    assert ids(news) == {"ibm", "amazon", "weather"}


def test_a_real_full_database_through_the_cli(news, tmp_path, monkeypatch, capsys):
    """SQLite's own SQLITE_FULL (max_page_count reached) while caching embeddings: one line, exit 1."""
    real_open = EmbeddedStore.open.__func__

    def open_capped(cls, folder, expected=None, create=False):
        store = real_open(cls, folder, expected, create)
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
        return store

    monkeypatch.setattr(EmbeddedStore, "open", classmethod(open_capped))
    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"id": f"n{i}", "title": f"Report {i}", "body": f"Ward{i} report. " * 200})
                           + "\n" for i in range(40)))
    code = main(["ingest", "--no-progress", "--index", str(news), str(big)])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    line = error_line(out.err)
    assert f"{news / 'index.sqlite'}: disk full (database or disk is full)" in line
    monkeypatch.undo()
    assert ids(news) == {"ibm", "amazon", "weather"}


def _settings(store):
    from index.chunk import ChunkSettings

    return ChunkSettings(**store.manifest.chunking)


# --- cases 5 and 6: a damaged or deleted database ---------------------------------------------------------------


def damage(index_dir: Path, how: str) -> None:
    path = index_dir / "index.sqlite"
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "header":
        path.write_bytes(b"\x00" * 16 + data[16:])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(data[:4096] + bytes(range(256)) * 16 + data[8192:])


@pytest.mark.parametrize(("how", "reason"), [
    ("truncated", "truncated ("), ("header", "not an SQLite database"), ("empty", "the file is empty"),
])
@pytest.mark.parametrize("command", [("articles",), ("info",), ("ask", "IBM Congress"), ("remove", "ibm")])
def test_damaged_database_is_one_line(news, cli, how, reason, command):
    damage(news, how)
    before = sorted(p.name for p in news.iterdir())
    code, out, err = cli(*command, "--index", str(news))
    assert code == 1 and out == ""
    line = error_line(err)
    assert f"{news / 'index.sqlite'} is damaged: {reason}" in line and "assistant check --repair" in line
    assert sorted(p.name for p in news.iterdir()) == before  # nothing deleted, nothing created


def test_garbage_inside_the_database_never_escapes_as_a_traceback(news, cli):
    damage(news, "garbage")
    for command in (("articles",), ("ask", "IBM Congress")):
        code, out, err = cli(*command, "--index", str(news))
        if code:  # where SQLite notices, one line says the file is damaged
            assert "index.sqlite is damaged" in error_line(err)


@pytest.mark.parametrize("command", [("articles",), ("ask", "IBM Congress"), ("ingest", "--no-progress", "NEW")])
def test_deleted_database_is_an_error_that_deletes_nothing(news, tmp_path, cli, command):
    """Case 6: before, it opened as an empty index and deleted the surviving FAISS and BM25 files."""
    (news / "index.sqlite").unlink()
    before = sorted(p.name for p in news.iterdir())
    assert "dense.faiss" in before and "keyword" in before
    command = tuple(str(new_file(tmp_path)) if c == "NEW" else c for c in command)
    code, out, err = cli(*command, "--index", str(news))
    assert code == 1
    line = error_line(err)
    assert f"{news / 'index.sqlite'} is missing (it holds the articles); nothing was deleted" in line
    assert sorted(p.name for p in news.iterdir()) == before
    with pytest.raises(IndexDamaged):
        Assistant.load(news, encoder=FakeEncoder())


# --- case 7: a manifest naming another model or dimension -------------------------------------------------------


def edit_manifest(index_dir: Path, **changes) -> None:
    path = index_dir / MANIFEST_NAME
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_manifest_with_another_dimension(news, cli):
    edit_manifest(news, dim=768)
    code, out, err = cli("articles", "--index", str(news))
    assert code == 2
    assert error_line(err) == (f"error: {news / MANIFEST_NAME}: says 768-d vectors, but the database holds 64-d "
                               "ones; the manifest was edited or belongs to another index")


def test_manifest_naming_a_model_not_on_this_machine_never_downloads(news, monkeypatch, capsys):
    """`ask` without --model loads the index's model: one not bundled and not local is refused by name."""
    edit_manifest(news, model="sentence-transformers/all-mpnet-base-v2-not-here")
    import huggingface_hub

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    code = main(["ask", "IBM Congress", "--index", str(news)])
    out = capsys.readouterr()
    assert code == 2 and "Traceback" not in out.err
    line = error_line(out.err)
    assert "model 'sentence-transformers/all-mpnet-base-v2-not-here' is not the bundled all-MiniLM-L6-v2" in line
    assert "not a folder on this machine" in line


# --- case 10: a running engine and other processes' commits -----------------------------------------------------


def test_engine_sees_other_writers_and_holds_no_read_transaction(news, tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "RELOAD_CHECK_SECONDS", 0.0)
    engine = Assistant.load(news, encoder=FakeEncoder())
    try:
        assert engine.ask("IBM Congress facial recognition").cited
        assert not engine.snapshot.conn.in_transaction  # between questions: no read transaction
        # another writer (its own store and connection, as another process would have) adds and removes
        build_index([str(new_file(tmp_path))], news, FakeEncoder())
        store = EmbeddedStore.open(news)
        remove_articles(store, ["ibm"])
        conn = sqlite3.connect(news / "index.sqlite")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        conn.close()
        assert busy == 0  # no reader pins the WAL
        answer = engine.ask("IBM Congress facial recognition")
        assert "ibm" not in {p.article_id for p in answer.passages}
        assert {a.id for a in engine.articles()} == {"amazon", "weather", "bridge"}
        assert engine.snapshot.generation == store.generation()
        store.close()
    finally:
        engine.close()


def test_a_question_on_an_expired_snapshot_is_answered_from_the_new_one(news, monkeypatch):
    """The engine has not polled yet (a long check interval) when another writer removes an article it is
    about to read: the question runs again on the newest snapshot, citing nothing that is gone."""
    monkeypatch.setattr(engine_module, "RELOAD_CHECK_SECONDS", 3600.0)
    engine = Assistant.load(news, encoder=FakeEncoder())
    try:
        old_generation = engine.snapshot.generation
        store = EmbeddedStore.open(news)
        remove_articles(store, ["ibm"])
        store.close()
        answer = engine.ask("IBM Congress facial recognition")
        assert engine.snapshot.generation == old_generation + 1
        assert "ibm" not in {p.article_id for p in answer.passages}
        with pytest.raises(KeyError):
            engine.article("ibm")
    finally:
        engine.close()


def test_reload_checks_are_rate_limited(news, monkeypatch):
    monkeypatch.setattr(engine_module, "RELOAD_CHECK_SECONDS", 3600.0)
    engine = Assistant.load(news, encoder=FakeEncoder())
    calls = []
    real = engine.snapshot.current_generation
    engine.snapshot.current_generation = lambda: calls.append(1) or real()
    try:
        for _ in range(5):
            engine.articles()
        assert calls == []
        engine._checked_at = time.monotonic() - 3601
        engine.articles()
        assert calls == [1]
    finally:
        engine.close()


def test_vectors_of_the_snapshot_are_read_in_short_transactions(news):
    snapshot = EmbeddedStore.open(news).snapshot()
    try:
        assert not snapshot.conn.in_transaction
        vectors = snapshot.sentence_vectors(0)
        assert vectors.shape[1] == 64 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-2)
        assert not snapshot.conn.in_transaction
    finally:
        snapshot.close()


def test_one_snapshot_read_from_many_threads(news):
    """Questions on several threads share one snapshot (found by eval/load_test.py: interleaved BEGINs on its
    connection failed with 'cannot start a transaction within a transaction')."""
    import threading

    snapshot = EmbeddedStore.open(news).snapshot()
    failures = []

    def read() -> None:
        try:
            for _ in range(150):
                for article_id in ("ibm", "amazon", "weather"):
                    snapshot.sentences(article_id)
                snapshot._vector_cache.clear()
                snapshot.sentence_vectors(0)
                snapshot.current_generation()
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            failures.append(err)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot.close()
    assert failures == []
