"""The stored index: incremental ingestion, the embedding cache, manifest checks, snapshots, derived files."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.chunk import ChunkSettings
from index.ingest import build_index, open_for_writing, remove_articles
from index.manifest import MANIFEST_NAME, IndexMismatch
from index.store import EmbeddedStore, IndexNotFound, SnapshotExpired, artifact_paths
from tests.fakes import FakeEncoder

BRIDGE = "Harbour bridge reopens\n\nThe harbour bridge reopened on Tuesday. Engineers replaced the rusty cables.\n"
ZOO = "Zoo welcomes giraffe\n\nThe city zoo welcomed a baby giraffe on Monday. Keepers named her Daisy.\n"
FLOOD = "River floods farmland\n\nThe river burst its banks near the village. Farmers moved cattle to high ground.\n"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def ingest(paths, index_dir, encoder, settings=None):
    return build_index([str(p) for p in paths], index_dir, encoder, settings)


def db_rows(index_dir: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(index_dir / "index.sqlite")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def state(index_dir: Path) -> dict:
    """Articles and chunks as a fresh snapshot sees them, after checking FAISS, BM25 and SQLite agree."""
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        n_chunks = db_rows(index_dir, "SELECT COUNT(*) FROM chunks")[0][0]
        assert snapshot.size == snapshot.vectors.size == snapshot.keywords.size == n_chunks
        chunks = [snapshot.chunk(i) for i in range(snapshot.size)]
        for chunk in chunks:
            assert snapshot.article(chunk.article_id).body[chunk.start:chunk.end] == chunk.text
        return {"ids": sorted(a.id for a in snapshot.articles()), "texts": [c.text for c in chunks],
                "generation": snapshot.generation}
    finally:
        snapshot.close()


def keyword_hits(index_dir: Path, query: str) -> list[str]:
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        positions, _ = snapshot.search_keyword(query, 10)
        return [snapshot.chunk(int(p)).article_id for p in positions]
    finally:
        snapshot.close()


def dense_top(index_dir: Path, encoder: FakeEncoder, query: str) -> str:
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        positions, _ = snapshot.search_dense(encoder.encode([query])[0], 1)
        return snapshot.chunk(int(positions[0])).article_id
    finally:
        snapshot.close()


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "in"
    write(folder, "bridge.txt", BRIDGE)
    write(folder, "zoo.txt", ZOO)
    return folder


# --- incremental ------------------------------------------------------------------------------------------------


def test_same_content_twice_changes_nothing(corpus, tmp_index, fake_encoder):
    first = ingest([corpus], tmp_index, fake_encoder)
    assert sorted(first.added) == ["bridge", "zoo"] and first.chunks_embedded == 2
    before, encoded, files = state(tmp_index), fake_encoder.texts_encoded, sorted(p.name for p in tmp_index.iterdir())
    again = ingest([corpus], tmp_index, fake_encoder)
    assert sorted(again.unchanged) == ["bridge", "zoo"]
    assert again.added == again.updated == again.skipped == []
    assert again.chunks_embedded == 0 and fake_encoder.texts_encoded == encoded  # nothing re-embedded
    assert again.generation == 0  # nothing committed
    assert state(tmp_index) == before
    assert sorted(p.name for p in tmp_index.iterdir()) == files


def test_changed_article_replaces_its_old_chunks(corpus, tmp_index, fake_encoder):
    ingest([corpus], tmp_index, fake_encoder)
    assert keyword_hits(tmp_index, "rusty cables") == ["bridge"]
    write(corpus, "bridge.txt", "Harbour bridge reopens\n\nThe bridge reopened on Wednesday. Divers inspected "
                                "the granite pillars.\n")
    report = ingest([corpus], tmp_index, fake_encoder)
    assert report.updated == ["bridge"] and report.unchanged == ["zoo"]
    after = state(tmp_index)
    assert after["ids"] == ["bridge", "zoo"]
    assert not any("rusty" in t for t in after["texts"])
    assert keyword_hits(tmp_index, "rusty") == []
    assert keyword_hits(tmp_index, "granite pillars") == ["bridge"]
    assert dense_top(tmp_index, fake_encoder, "divers inspected granite pillars") == "bridge"
    rowid = db_rows(tmp_index, "SELECT rowid FROM articles WHERE id = 'bridge'")[0][0]
    assert db_rows(tmp_index, "SELECT COUNT(*) FROM articles WHERE id = 'bridge'") == [(1,)]
    assert db_rows(tmp_index, "SELECT COUNT(*) FROM chunks WHERE article_rowid NOT IN (SELECT rowid FROM articles)"
                   ) == [(0,)]
    assert db_rows(tmp_index, "SELECT COUNT(*) FROM chunks WHERE article_rowid = ?", rowid) == [(1,)]


def test_metadata_change_updates_without_re_embedding(tmp_path, tmp_index, fake_encoder):
    path = write(tmp_path, "a.md", "---\ntitle: Rates held\nsource: Wire\n---\nThe bank held rates. Markets rose.\n")
    ingest([path], tmp_index, fake_encoder)
    write(tmp_path, "a.md", "---\ntitle: Rates held\nsource: Other Wire\n---\nThe bank held rates. Markets rose.\n")
    encoded = fake_encoder.texts_encoded
    report = ingest([path], tmp_index, fake_encoder)
    assert report.updated == ["a"] and report.chunks_embedded == 0 and report.chunks_from_cache == 1
    assert fake_encoder.texts_encoded == encoded
    snapshot = EmbeddedStore.open(tmp_index).snapshot()
    assert snapshot.article("a").source == "Other Wire"


def test_remove_deletes_article_chunks_and_vectors(corpus, tmp_index, fake_encoder):
    ingest([corpus, write(corpus, "flood.txt", FLOOD)], tmp_index, fake_encoder)
    store = EmbeddedStore.open(tmp_index)
    removed, unknown = remove_articles(store, ["zoo", "no-such-article"])
    store.close()
    assert removed == ["zoo"] and unknown == ["no-such-article"]
    after = state(tmp_index)  # FAISS size == BM25 size == chunks in SQLite
    assert after["ids"] == ["bridge", "flood"] and len(after["texts"]) == 2
    assert db_rows(tmp_index, "SELECT COUNT(*) FROM articles WHERE id = 'zoo'") == [(0,)]
    assert db_rows(tmp_index, "SELECT COUNT(*) FROM sentences WHERE article_rowid NOT IN "
                              "(SELECT rowid FROM articles)") == [(0,)]
    assert keyword_hits(tmp_index, "giraffe Daisy") == []
    assert dense_top(tmp_index, fake_encoder, "baby giraffe zoo keepers") != "zoo"


def test_remove_everything_leaves_an_empty_loadable_index(corpus, tmp_index, fake_encoder):
    ingest([corpus], tmp_index, fake_encoder)
    store = EmbeddedStore.open(tmp_index)
    remove_articles(store, ["bridge", "zoo"])
    store.close()
    assert state(tmp_index)["ids"] == []
    assert keyword_hits(tmp_index, "bridge") == []


def test_duplicate_text_under_another_name_is_skipped(corpus, tmp_index, fake_encoder):
    copy = write(corpus, "copy-of-bridge.txt", BRIDGE)
    report = ingest([corpus], tmp_index, fake_encoder)
    assert sorted(report.added) == ["bridge", "zoo"]
    (problem,) = report.skipped
    assert problem.where == str(copy)
    assert "'copy-of-bridge' is a duplicate of 'bridge'" in str(problem)
    assert state(tmp_index)["ids"] == ["bridge", "zoo"]
    # later, against what is stored
    later = write(corpus.parent / "later", "bridge-again.txt", BRIDGE)
    report = ingest([later], tmp_index, fake_encoder)
    assert report.added == [] and "duplicate of 'bridge'" in str(report.skipped[0])
    assert state(tmp_index)["ids"] == ["bridge", "zoo"]


def test_two_inputs_with_one_id_keep_the_first_and_say_so(tmp_path, tmp_index, fake_encoder):
    folder = tmp_path / "in"
    md = write(folder, "story.md", ZOO)
    txt = write(folder, "story.txt", FLOOD)
    report = ingest([folder], tmp_index, fake_encoder)
    assert report.added == ["story"]
    (problem,) = report.skipped
    assert problem.where == str(txt) and f"article id 'story' was already read from {md}" in problem.reason
    assert keyword_hits(tmp_index, "giraffe") == ["story"]
    again = ingest([folder], tmp_index, fake_encoder)  # stable: no flip-flopping between the two files
    assert again.unchanged == ["story"] and again.updated == []


def test_embeddings_are_cached_by_content_across_removal(corpus, tmp_index, fake_encoder):
    first = ingest([corpus], tmp_index, fake_encoder)
    store = EmbeddedStore.open(tmp_index)
    remove_articles(store, ["zoo"])
    store.close()
    encoded = fake_encoder.texts_encoded
    report = ingest([corpus / "zoo.txt"], tmp_index, fake_encoder)
    assert report.added == ["zoo"]
    assert report.chunks_embedded == 0 and report.chunks_from_cache == 1
    assert fake_encoder.texts_encoded == encoded
    assert first.chunks_embedded == 2
    assert keyword_hits(tmp_index, "giraffe") == ["zoo"]
    assert dense_top(tmp_index, fake_encoder, "baby giraffe Daisy zoo") == "zoo"


def test_stored_vectors_are_the_encoders(corpus, tmp_index, fake_encoder):
    ingest([corpus], tmp_index, fake_encoder)
    snapshot = EmbeddedStore.open(tmp_index).snapshot()
    for position in range(snapshot.size):
        chunk = snapshot.chunk(position)
        title = snapshot.article(chunk.article_id).title
        vector = fake_encoder.encode([f"{title}\n{chunk.text}"])[0]
        positions, scores = snapshot.search_dense(vector, 1)
        assert int(positions[0]) == position and scores[0] == pytest.approx(1.0, abs=1e-5)
        sentences = snapshot.sentences(chunk.article_id)
        assert all(snapshot.article(chunk.article_id).body[s.start:s.end] == s.text for s in sentences)


def test_only_the_current_derived_files_remain(corpus, tmp_index, fake_encoder):
    ingest([corpus / "bridge.txt"], tmp_index, fake_encoder)
    (tmp_index / "dense-1.faiss").write_bytes(b"the earlier layout's file")  # left by an older version
    ingest([corpus / "zoo.txt"], tmp_index, fake_encoder)
    dense, keyword = artifact_paths(tmp_index)
    names = {p.name for p in tmp_index.iterdir()} - {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm"}
    assert names == {MANIFEST_NAME, ".lock", ".writer.lock", dense.name, "dense.json", keyword.name, "keyword.json"}


def test_a_commit_touches_only_the_changed_chunks(corpus, tmp_index, fake_encoder):
    """The dense base file is not rewritten for a small change (the snapshot replays it from the change log);
    the keyword index takes the new chunk; the log keeps only what the base file has not taken in."""
    ingest([corpus / "bridge.txt"], tmp_index, fake_encoder)
    dense, _ = artifact_paths(tmp_index)
    before = dense.read_bytes()
    ingest([corpus / "zoo.txt", write(corpus, "flood.txt", FLOOD)], tmp_index, fake_encoder)
    assert dense.read_bytes() == before
    assert json.loads((tmp_index / "dense.json").read_text())["size"] == 1
    assert len(db_rows(tmp_index, "SELECT * FROM changes")) == 2  # the two new chunks, not yet in the base
    assert state(tmp_index)["ids"] == ["bridge", "flood", "zoo"]
    assert keyword_hits(tmp_index, "giraffe") == ["zoo"]
    assert dense_top(tmp_index, fake_encoder, "river farmers cattle high ground") == "flood"
    store = EmbeddedStore.open(tmp_index)
    remove_articles(store, ["bridge"])
    store.close()
    assert state(tmp_index)["ids"] == ["flood", "zoo"]
    assert dense_top(tmp_index, fake_encoder, "harbour bridge engineers cables") != "bridge"


def test_the_dense_base_is_compacted_when_changes_pile_up(tmp_path, tmp_index, fake_encoder, monkeypatch):
    import index.store as store_module

    monkeypatch.setattr(store_module, "COMPACT_MIN", 3)
    folder = tmp_path / "many"
    for i in range(6):
        write(folder, f"a{i}.txt", f"Story {i}\n\nThe word{i} council met on day{i}. It voted.\n")
    ingest([folder / "a0.txt"], tmp_index, fake_encoder)
    ingest([folder / f"a{i}.txt" for i in range(1, 6)], tmp_index, fake_encoder)  # 5 changes > 3: compacted
    meta = json.loads((tmp_index / "dense.json").read_text())
    assert meta["size"] == 6 and db_rows(tmp_index, "SELECT COUNT(*) FROM changes") == [(0,)]
    assert keyword_hits(tmp_index, "word4") == ["a4"]
    assert dense_top(tmp_index, fake_encoder, "word3 council day3") == "a3"


# --- manifest ---------------------------------------------------------------------------------------------------


class OtherModel(FakeEncoder):
    name = "other-model"


def test_other_model_name_is_refused(corpus, tmp_index, fake_encoder):
    ingest([corpus], tmp_index, fake_encoder)
    with pytest.raises(IndexMismatch) as err:
        ingest([corpus], tmp_index, OtherModel())
    message = str(err.value)
    assert str(tmp_index) in message and "'fake-hash-encoder'" in message and "'other-model'" in message
    assert "\n" not in message
    assert state(tmp_index)["ids"] == ["bridge", "zoo"]


def test_other_dimension_is_refused(corpus, tmp_index, fake_encoder):
    ingest([corpus], tmp_index, fake_encoder)
    # one model name, two dimensions: said without contradicting itself (issue 14, case 7)
    with pytest.raises(IndexMismatch, match=r"built with model 'fake-hash-encoder' giving 64-d vectors, but the "
                                            r"'fake-hash-encoder' loaded here gives 32-d"):
        open_for_writing(tmp_index, FakeEncoder(dim=32))


def test_other_chunking_is_refused(corpus, tmp_index, fake_encoder):
    ingest([corpus], tmp_index, fake_encoder)
    with pytest.raises(IndexMismatch, match="built with chunking"):
        open_for_writing(tmp_index, fake_encoder, ChunkSettings(max_tokens=100))


@pytest.mark.parametrize("version", [1, 99])
def test_other_format_version_is_refused(corpus, tmp_index, fake_encoder, version):
    ingest([corpus], tmp_index, fake_encoder)
    manifest = json.loads((tmp_index / MANIFEST_NAME).read_text())
    manifest["format_version"] = version
    (tmp_index / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match=f"index format {version}, this version reads"):
        open_for_writing(tmp_index, fake_encoder)
    with pytest.raises(IndexMismatch, match=f"index format {version}"):  # reading, without a model, too
        EmbeddedStore.open(tmp_index)


def test_unreadable_manifest_and_missing_index(corpus, tmp_index, fake_encoder, tmp_path):
    with pytest.raises(IndexNotFound, match="no index here"):
        EmbeddedStore.open(tmp_path / "nowhere")
    ingest([corpus], tmp_index, fake_encoder)
    (tmp_index / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(IndexMismatch, match="unreadable manifest"):
        EmbeddedStore.open(tmp_index)


# --- snapshots and derived files --------------------------------------------------------------------------------


def test_snapshot_taken_before_a_commit_keeps_its_view_or_says_it_expired(corpus, tmp_index, fake_encoder):
    """A snapshot holds no read transaction (issue 14, case 10), so it cannot keep the old bodies of changed
    articles: what it loaded (article list, sizes, searches) stays; a read of an article changed or removed
    since raises SnapshotExpired; nothing of the newer generation is ever returned as the old one's."""
    write(corpus, "flood.txt", FLOOD)
    ingest([corpus], tmp_index, fake_encoder)
    store = EmbeddedStore.open(tmp_index)
    old = store.snapshot()
    old_size = old.size
    write(corpus, "bridge.txt", "Harbour bridge reopens\n\nThe bridge reopened on Wednesday. Divers inspected "
                                "the granite pillars.\n")
    ingest([corpus], tmp_index, fake_encoder)
    remove_articles(store, ["zoo"])
    # the old view: same articles, same sizes, same search results
    assert sorted(a.id for a in old.articles()) == ["bridge", "flood", "zoo"]
    assert old.size == old_size == old.vectors.size == old.keywords.size
    positions, _ = old.search_keyword("giraffe", 5)
    assert [int(old.chunk_article_keys[p]) for p in positions] == [old.article_rowid("zoo")]
    positions, _ = old.search_keyword("granite", 5)
    assert len(positions) == 0
    # unchanged articles read as before; changed or removed ones say so instead of showing another generation
    assert "cattle" in old.article("flood").body
    assert [s.text for s in old.sentences("flood")][-1] == "Farmers moved cattle to high ground."
    for read in (lambda: old.article("bridge"), lambda: old.sentences("zoo"), lambda: old.article("zoo")):
        with pytest.raises(SnapshotExpired):
            read()
    # ranking signals built on first use leave out what changed since, instead of failing the question
    assert old.near_duplicates() == {}
    found, _ = old.search_articles("giraffe zoo", 5)
    assert old.article_rowid("zoo") not in set(found.tolist())
    zoo_position = int(np.flatnonzero(old.chunk_article_keys == old.article_rowid("zoo"))[0])
    with pytest.raises(SnapshotExpired):
        old.sentence_vectors(zoo_position)  # its chunk is gone
    # a new view sees the new state
    new = store.snapshot()
    assert sorted(a.id for a in new.articles()) == ["bridge", "flood"]
    assert "granite" in new.article("bridge").body
    assert new.generation > old.generation
    for handle in (old, new, store):
        handle.close()


def _overwrite(path: Path, data: bytes) -> None:
    """Damage a file by putting another in its place: truncating it in place would pull the pages from
    under any mapping of it still open in this process (tantivy maps its segments), a bus error for the
    whole test run rather than the damaged index the test is about."""
    spare = path.with_name(path.name + ".damaged")
    spare.write_bytes(data)
    os.replace(spare, path)


@pytest.mark.parametrize("damage", ["delete dense", "corrupt dense", "delete keyword", "corrupt keyword",
                                    "dense of another size"])
def test_derived_files_are_rebuilt_from_the_database(corpus, tmp_index, fake_encoder, damage):
    ingest([corpus], tmp_index, fake_encoder)
    generation = state(tmp_index)["generation"]
    dense, keyword = artifact_paths(tmp_index, generation)
    if damage == "delete dense":
        dense.unlink()
    elif damage == "corrupt dense":
        _overwrite(dense, b"not a faiss index")
    elif damage == "delete keyword":
        for path in keyword.iterdir():
            path.unlink()
        keyword.rmdir()
    elif damage == "corrupt keyword":
        for path in keyword.iterdir():
            _overwrite(path, b"garbage")
    else:
        from index.vectors import VectorIndex

        VectorIndex.build(fake_encoder.encode(["one", "two", "three"]), fake_encoder.dim).save(dense)
    after = state(tmp_index)  # asserts FAISS == BM25 == SQLite chunk count
    assert after["ids"] == ["bridge", "zoo"]
    assert dense.exists() and (keyword / "meta.json").exists()  # written back
    assert keyword_hits(tmp_index, "giraffe") == ["zoo"]
    assert dense_top(tmp_index, fake_encoder, "harbour bridge engineers cables") == "bridge"


def _flip_block(path: Path, size: int = 4096) -> None:
    """4 KB of garbage in the middle of a file, its header and length intact (issue 14, cases 3 and 4)."""
    data = bytearray(path.read_bytes())
    middle = max(len(data) // 2 - size // 2, min(64, len(data) - 1))
    data[middle:middle + size] = bytes((b ^ 0x5A) for b in data[middle:middle + size])
    path.write_bytes(bytes(data[:len(path.read_bytes())]))


@pytest.mark.parametrize("target", ["dense", "keyword"])
def test_damaged_bytes_in_a_derived_file_mean_a_rebuild_with_a_notice(tmp_path, tmp_index, fake_encoder, target,
                                                                     capsys):
    """Garbage inside a derived file is caught by its checksum on open: one line on stderr, the index
    rebuilt from the database, the same answers as before the damage, never the damaged file used."""
    folder = tmp_path / "in"
    for i in range(40):
        write(folder, f"a{i:02d}.txt", f"Story {i}\n\nThe word{i} council met on day{i} about topic{i % 7}. "
                                       f"Residents of ward{i} asked questions. " * 3 + "\n")
    ingest([folder], tmp_index, fake_encoder)
    expected = (keyword_hits(tmp_index, "word17 council"), dense_top(tmp_index, fake_encoder, "word23 council day23"))
    copy = tmp_path / "copy"
    shutil.copytree(tmp_index, copy)
    dense, keyword = artifact_paths(copy)
    victim = dense if target == "dense" else max((p for p in keyword.iterdir() if p.name != "meta.json"),
                                                 key=lambda p: p.stat().st_size)
    _flip_block(victim)
    capsys.readouterr()
    assert (keyword_hits(copy, "word17 council"), dense_top(copy, fake_encoder, "word23 council day23")) == expected
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("notice: ") and "rebuilding" in lines[0]
    assert str(dense if target == "dense" else keyword) in lines[0] and "checksum mismatch" in lines[0]
    state(copy)  # FAISS, keyword index and SQLite agree
    capsys.readouterr()
    keyword_hits(copy, "word17")  # the rebuilt files carry fresh checksums: no second notice
    assert capsys.readouterr().err == ""


def test_an_ingest_reads_the_hashes_of_its_own_articles_only(corpus, tmp_path, tmp_index, fake_encoder, monkeypatch):
    """Issue 16: checking incoming articles against the archive asks about those articles (ids and content
    hashes, through indexes), not every stored one; unchanged, updated and duplicate verdicts still hold."""
    ingest([corpus], tmp_index, fake_encoder)

    def everything(self):
        raise AssertionError("read every stored article's hashes")

    monkeypatch.setattr(EmbeddedStore, "stored_hashes", everything)
    extra = tmp_path / "more"
    write(extra, "zoo-copy.txt", ZOO)  # the zoo's text under another name
    write(extra, "flood.txt", FLOOD)
    report = ingest([corpus, extra], tmp_index, fake_encoder)
    assert sorted(report.unchanged) == ["bridge", "zoo"] and report.added == ["flood"]
    assert any("duplicate of 'zoo'" in p.reason for p in report.skipped)
    write(corpus, "bridge.txt", BRIDGE.replace("Tuesday", "Wednesday"))
    assert ingest([corpus], tmp_index, fake_encoder).updated == ["bridge"]


def test_prefetch_reads_once_what_passages_and_answers_then_use(corpus, tmp_index, fake_encoder):
    """One read for a ranking's bodies and sentence vectors; afterwards chunk() and sentence_vectors()
    give exactly what they read on their own, without touching the database again."""
    ingest([corpus], tmp_index, fake_encoder)
    store = EmbeddedStore.open(tmp_index)
    cold, warm = store.snapshot(), store.snapshot()
    positions = list(range(cold.size))
    expected = [(cold.chunk(p), cold.sentence_vectors(p)) for p in positions]
    warm.prefetch(positions)

    def no_reads(*_args, **_kwargs):
        raise AssertionError("read the database after prefetch")

    warm._read = no_reads
    for p, (chunk, vectors) in zip(positions, expected, strict=True):
        assert warm.chunk(p) == chunk and np.array_equal(warm.sentence_vectors(p), vectors)
