"""`assistant check [--repair]`, `assistant export` and `assistant import` (issue 14, case 8)."""

from __future__ import annotations

import io
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest

from index.backup import CHECKSUMS
from index.check import CANNOT_FIX, FIXED, PROBLEM, check_index, healthy
from index.store import EmbeddedStore, artifact_paths


def sql(index_dir: Path, *statements: str) -> None:
    conn = sqlite3.connect(index_dir / "index.sqlite", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    for statement in statements:
        conn.execute(statement)
    conn.close()


def levels(findings) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f.level, []).append(f.text)
    return out


def searchable(index_dir: Path) -> list[str]:
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        positions, _ = snapshot.search_keyword("Rekognition moratorium", 3)
        return [snapshot.chunk(int(p)).article_id for p in positions]
    finally:
        snapshot.close()


def test_a_healthy_index(news, cli):
    code, out, err = cli("check", "--index", news)
    assert code == 0, out
    assert "ok: SQLite integrity check passed" in out.splitlines()
    assert "ok: FAISS, BM25 and the database agree: 3 chunks, generation 1" in out.splitlines()
    assert err.strip() == f"{news}: healthy"


def test_damaged_sqlite_index_is_found_and_rebuilt(news, cli):
    # the b-tree of articles_content now claims to index record_hash: SQLite's integrity check fails
    sql(news, "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET sql = 'CREATE INDEX articles_content ON articles(record_hash)'"
        " WHERE name = 'articles_content'")
    code, out, err = cli("check", "--index", news)
    assert code == 1 and "problem: SQLite integrity check:" in out and "articles_content" in out
    assert "try 'assistant check --repair" in err
    code, out, _ = cli("check", "--repair", "--index", news)
    assert code == 0, out
    assert "rebuilt SQLite's indexes (REINDEX); the check passes now" in out
    assert healthy(check_index(news))


def test_orphan_rows_are_reported_and_deleted(news, cli):
    sql(news, "INSERT INTO chunks (article_rowid, position, start, end, first_sentence, last_sentence, n_tokens,"
              " vector_hash) VALUES (999, 0, 0, 5, 0, 0, 1, 'nohash')",
        "INSERT INTO sentences VALUES (999, 0, 0, 5)")
    found = levels(check_index(news))
    assert found[PROBLEM][0] == "rows whose article is gone: 1 chunks, 1 sentences"
    code, out, _ = cli("check", "--repair", "--index", news)
    assert code == 0, out
    assert "fixed: rows whose article is gone: deleted 1 chunks, 1 sentences" in out
    assert "ok: FAISS, BM25 and the database agree: 3 chunks, generation 1" in out
    assert searchable(news) == ["amazon"]


def test_chunks_without_vectors_cannot_be_fixed_and_say_what_to_do(news, cli):
    sql(news, "DELETE FROM vectors WHERE hash IN (SELECT c.vector_hash FROM chunks c JOIN articles a"
              " ON a.rowid = c.article_rowid WHERE a.id = 'ibm')")
    code, out, _ = cli("check", "--repair", "--index", news)
    assert code == 1
    assert "problem: 1 articles have chunks without vectors: ibm" in out
    assert "cannot fix: the vectors of ibm: remove those articles and ingest them again" in out


@pytest.mark.parametrize("damage", ["delete", "garbage"])
def test_derived_files_are_rebuilt(news, damage):
    dense, keyword = artifact_paths(news, 1)
    if damage == "delete":
        dense.unlink()
        shutil.rmtree(keyword)
    else:
        dense.write_bytes(b"garbage")
    found = levels(check_index(news))
    assert "the derived files of generation 1 were missing, stale or unreadable" in found[FIXED][0]
    assert dense.exists() and keyword.exists()
    repaired = levels(check_index(news, repair=True))
    assert repaired[FIXED][0].startswith("deleted 4 derived files")  # dense.faiss, dense.json, keyword/, keyword.json
    assert PROBLEM not in repaired and searchable(news) == ["amazon"]


def test_a_damaged_database_cannot_be_repaired(news, cli):
    path = news / "index.sqlite"
    path.write_bytes(b"\x00" * 100 + path.read_bytes()[100:])
    code, out, _ = cli("check", "--repair", "--index", news)
    assert code == 1
    assert f"problem: {path} is damaged: not an SQLite database" in out
    assert f"{CANNOT_FIX}: index.sqlite holds the articles: restore the folder from a backup" in out


# --- export / import ----------------------------------------------------------------------------------------------


def test_export_and_import_round_trip(news, tmp_path, cli):
    archive = tmp_path / "backup.tar"
    code, out, _ = cli("export", "--index", news, archive)
    assert code == 0 and "with SHA256SUMS" in out
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == CHECKSUMS and {"index.sqlite", "manifest.json", "dense.faiss", "keyword/meta.json"} <= set(names)
    restored = tmp_path / "restored"
    code, out, _ = cli("import", archive, "--index", restored)
    assert code == 0 and "checksums verified" in out
    assert searchable(restored) == ["amazon"]
    assert healthy(check_index(restored))
    code, out, _ = cli("articles", "--index", restored)
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == ["amazon", "ibm", "weather"]


def test_an_imported_index_opens_without_rebuilding_its_derived_files(news, tmp_path, cli, monkeypatch, capsys):
    """dense.json and keyword.json travel with the files they describe (issue 16): without them the first
    open rebuilt FAISS and the keyword index from the database (minutes at a million chunks)."""
    import index.store

    archive, restored = tmp_path / "backup.tar", tmp_path / "restored"
    assert cli("export", "--index", news, archive)[0] == 0
    with tarfile.open(archive) as tar:
        assert {"dense.json", "keyword.json"} <= set(tar.getnames())
    assert cli("import", archive, "--index", restored)[0] == 0

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a derived index")

    monkeypatch.setattr(index.store, "build_dense", no_rebuild)
    monkeypatch.setattr(index.store, "build_keywords", no_rebuild)
    capsys.readouterr()
    snapshot = EmbeddedStore.open(restored).snapshot()
    try:
        assert snapshot.size == snapshot.vectors.size == snapshot.keywords.size > 0
    finally:
        snapshot.close()
    assert "notice:" not in capsys.readouterr().err
    assert searchable(restored) == ["amazon"]


def test_import_refuses_a_non_empty_folder_and_export_an_existing_file(news, tmp_path, cli):
    archive = tmp_path / "backup.tar"
    assert cli("export", "--index", news, archive)[0] == 0
    code, _, err = cli("export", "--index", news, archive)
    assert code == 1 and f"{archive} already exists" in err
    before = sorted(p.name for p in news.iterdir())
    code, _, err = cli("import", archive, "--index", news)
    assert code == 1 and err.strip() == (f"error: {news} is not empty; import into a new or empty folder "
                                         "(nothing was changed)")
    assert sorted(p.name for p in news.iterdir()) == before


def tamper(archive: Path, out: Path, name: str) -> None:
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == name:
                data = data[:-10] + b"X" * 10
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


def test_import_verifies_every_checksum(news, tmp_path, cli):
    archive, damaged = tmp_path / "backup.tar", tmp_path / "damaged.tar"
    assert cli("export", "--index", news, archive)[0] == 0
    tamper(archive, damaged, "index.sqlite")
    target = tmp_path / "restored"
    code, _, err = cli("import", damaged, "--index", target)
    assert code == 1
    assert err.strip() == f"error: {damaged}: index.sqlite does not match its checksum; the archive is damaged"
    assert not target.exists() and not any(p.name.startswith(".restored") for p in tmp_path.iterdir())


def test_import_refuses_entries_outside_the_folder(tmp_path, cli):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    code, _, err = cli("import", evil, "--index", tmp_path / "target")
    assert code == 1 and "unexpected entry '../outside.txt'" in err
    assert not (tmp_path / "outside.txt").exists()
