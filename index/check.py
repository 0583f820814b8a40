"""`assistant check [--repair]`: is an index folder whole? SQLite's integrity check, the manifest against
the stored vectors, rows that lost their article, chunks without vectors, and FAISS/BM25 against the
database (through the store's own API: a snapshot loads or rebuilds them, and its sizes must agree).

`--repair` fixes what can be fixed from the database alone: index b-trees (REINDEX), orphan rows, and the
derived files (deleted, then rebuilt by the next open). What it cannot fix (a damaged database, chunks
whose vectors are gone) it names, with what to do instead.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from index import database as db
from index.manifest import FORMAT_VERSION, IndexMismatch, read_manifest
from index.store import (
    WRITER_LOCK,
    EmbeddedStore,
    IndexBusy,
    IndexDamaged,
    IndexNotFound,
    StoreError,
    artifact_paths,
    check_database_file,
)

OK, PROBLEM, FIXED, CANNOT_FIX = "ok", "problem", "fixed", "cannot fix"

# Rows whose article is gone (foreign keys delete them with it; a database edited without them may not).
_ORPHANS = {
    "chunks": "SELECT COUNT(*) FROM chunks WHERE article_rowid NOT IN (SELECT rowid FROM articles)",
    "sentences": "SELECT COUNT(*) FROM sentences WHERE article_rowid NOT IN (SELECT rowid FROM articles)",
    "signatures": "SELECT COUNT(*) FROM signatures WHERE article_rowid NOT IN (SELECT rowid FROM articles)",
    "sentence_keys": "SELECT COUNT(*) FROM sentence_keys WHERE article_rowid NOT IN (SELECT rowid FROM articles)",
}


@dataclass(frozen=True)
class Finding:
    level: str  # ok, problem, fixed, cannot fix
    text: str

    def __str__(self) -> str:
        return f"{self.level}: {self.text}"


def healthy(findings: list[Finding]) -> bool:
    """No problem left: every finding is ok, or was fixed (a fixed problem is one `fixed` finding)."""
    return all(f.level in (OK, FIXED) for f in findings)


def check_index(folder: Path | str, repair: bool = False) -> list[Finding]:
    folder = Path(folder)
    if not folder.is_dir():
        raise IndexNotFound(f"{folder}: no index here")
    findings: list[Finding] = []
    try:
        manifest = read_manifest(folder)
    except IndexMismatch as err:
        return [Finding(PROBLEM, str(err)), Finding(CANNOT_FIX, "the manifest: restore the folder from a backup "
                                                               "('assistant import') or ingest into a new folder")]
    if manifest is None:
        raise IndexNotFound(f"{folder}: no index here (no manifest.json)")
    if manifest.format_version != FORMAT_VERSION:
        return [Finding(PROBLEM, f"index format {manifest.format_version}; this version reads {FORMAT_VERSION}"),
                Finding(CANNOT_FIX, "ingest into a new --index folder")]
    findings.append(Finding(OK, f"manifest: model {manifest.model} ({manifest.dim}-d), format {FORMAT_VERSION}"))

    with _exclusive(folder, repair):
        return findings + _check_store(folder, manifest.dim, repair)


@contextmanager
def _exclusive(folder: Path, repair: bool) -> Iterator[None]:
    """A repair writes: it holds the index's writer lock (an ingest running meanwhile: refused, not waited for)."""
    if not repair:
        yield
        return
    with open(folder / WRITER_LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"{folder}: an ingest or removal is running; repair when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_store(folder: Path, dim: int, repair: bool) -> list[Finding]:
    findings: list[Finding] = []
    path = folder / db.DB_NAME
    try:
        check_database_file(path)
        conn = db.connect(path, create=False)
    except (IndexDamaged, sqlite3.DatabaseError) as err:
        return findings + [Finding(PROBLEM, str(err)), _restore_advice()]
    try:
        store_findings = _check_database(conn, dim, repair)
    except sqlite3.DatabaseError as err:
        store_findings = [Finding(PROBLEM, f"{path}: {err}"), _restore_advice()]
    finally:
        conn.close()
    findings += store_findings
    if not healthy(store_findings):  # derived files are only as good as the database they come from
        return findings + [Finding(PROBLEM, "FAISS and BM25 not checked: fix the database first"
                                            + ("" if repair else " (--repair)"))]
    return findings + _check_derived(folder, repair)


def _restore_advice() -> Finding:
    return Finding(CANNOT_FIX, "index.sqlite holds the articles: restore the folder from a backup "
                               "('assistant import'), or ingest the articles again into a new --index folder")


def _check_database(conn: sqlite3.Connection, dim: int, repair: bool) -> list[Finding]:
    findings = []
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    if integrity == ["ok"]:
        findings.append(Finding(OK, "SQLite integrity check passed"))
    else:
        problem = (f"SQLite integrity check: {'; '.join(integrity[:3])}"
                   + (f" (and {len(integrity) - 3} more)" if len(integrity) > 3 else ""))
        if not repair:
            findings.append(Finding(PROBLEM, problem))
        else:
            conn.execute("REINDEX")  # index b-trees are derived from the tables
            again = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
            if again != ["ok"]:
                return findings + [Finding(PROBLEM, problem), _restore_advice()]
            findings.append(Finding(FIXED, f"{problem}: rebuilt SQLite's indexes (REINDEX); the check passes now"))

    row = conn.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
    if row and row[0] != 4 * dim:
        findings += [Finding(PROBLEM, f"the manifest says {dim}-d vectors, the database holds {row[0] // 4}-d"),
                     Finding(CANNOT_FIX, "the manifest: restore it from a backup, or ingest into a new folder")]
        return findings

    orphans = {table: conn.execute(sql).fetchone()[0] for table, sql in _ORPHANS.items()}
    if any(orphans.values()):
        text = ", ".join(f"{n} {table}" for table, n in orphans.items() if n)
        if not repair:
            findings.append(Finding(PROBLEM, f"rows whose article is gone: {text}"))
        else:
            conn.execute("BEGIN IMMEDIATE")
            for table in _ORPHANS:
                conn.execute(f"DELETE FROM {table} WHERE article_rowid NOT IN (SELECT rowid FROM articles)")
            conn.execute("COMMIT")
            findings.append(Finding(FIXED, f"rows whose article is gone: deleted {text}"))
    else:
        findings.append(Finding(OK, "no orphan chunks, sentences, signatures or sentence keys"))

    missing = [r[0] for r in conn.execute(
        "SELECT DISTINCT a.id FROM chunks c JOIN articles a ON a.rowid = c.article_rowid"
        " LEFT JOIN vectors v ON v.hash = c.vector_hash WHERE v.hash IS NULL ORDER BY a.id")]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        findings += [Finding(PROBLEM, f"{len(missing)} articles have chunks without vectors: {shown}"),
                     Finding(CANNOT_FIX, f"the vectors of {shown}: remove those articles and ingest them again")]
    empty = conn.execute("SELECT COUNT(*) FROM articles WHERE rowid NOT IN (SELECT article_rowid FROM chunks)"
                         ).fetchone()[0]
    if empty:
        findings.append(Finding(PROBLEM, f"{empty} articles have no chunks (they can never be found); "
                                         "remove them and ingest them again"))
    unused = conn.execute("SELECT COUNT(*) FROM vectors WHERE hash NOT IN (SELECT vector_hash FROM chunks)"
                          ).fetchone()[0]
    findings.append(Finding(OK, f"{unused} cached embeddings not used by any chunk (kept: re-ingesting is cheap)"))
    return findings


def _check_derived(folder: Path, repair: bool) -> list[Finding]:
    """FAISS and BM25 through the store: a snapshot loads the current generation's files (or rebuilds them
    from the database), and its sizes must agree with the database's chunk count."""
    findings = []
    try:
        store = EmbeddedStore.open(folder)
    except (StoreError, IndexMismatch) as err:
        return [Finding(PROBLEM, str(err))]
    try:
        generation = store.generation()
        current = artifact_paths(folder, generation)
        if repair:
            with store.write_lock():  # (the writer lock is held by check_index)
                removed = _remove_derived(folder)
            findings.append(Finding(FIXED, f"deleted {removed} derived files; FAISS and BM25 rebuilt from the "
                                           "database below"))
        before = [_stamp(p) for p in current]
        stale = sorted(p.name for p in folder.iterdir()
                       if p.name.startswith(("dense-", "keyword-")) and p not in current)
        snapshot = store.snapshot()
        try:
            n_chunks = store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            sizes = (snapshot.size, snapshot.vectors.size, snapshot.keywords.size)
            if sizes == (n_chunks,) * 3:
                findings.append(Finding(OK, f"FAISS, BM25 and the database agree: {n_chunks} chunks, "
                                            f"generation {generation}"))
            else:
                findings.append(Finding(PROBLEM, f"sizes disagree: database {n_chunks} chunks, snapshot {sizes[0]}, "
                                                 f"FAISS {sizes[1]}, BM25 {sizes[2]}"))
        finally:
            snapshot.close()
        after = [_stamp(p) for p in current]
        if not repair and after != before:
            findings.append(Finding(FIXED, f"the derived files of generation {generation} were missing, stale or "
                                           "unreadable: rebuilt from the database"))
        if stale and not repair:
            findings.append(Finding(OK, f"left-over derived files of other generations: {', '.join(stale[:4])} "
                                        "(removed when next rebuilt)"))
    finally:
        store.close()
    return findings


def _remove_derived(folder: Path) -> int:
    import shutil

    removed = 0
    for path in folder.iterdir():
        if path.name.startswith(("dense", "keyword")):  # dense.faiss/.json, keyword/, keyword.json, older layouts
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed += 1
    return removed


def _stamp(path: Path) -> tuple | None:
    """What changes when a derived file (or folder) is rewritten."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(path.iterdir())
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
