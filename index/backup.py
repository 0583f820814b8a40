"""`assistant export` / `assistant import`: an index folder as one .tar with a SHA256SUMS file.

Export holds the index's writer lock (no ingest or removal meanwhile), copies the database with SQLite's
online backup (a consistent copy even while questions are read), and adds the manifest and the current
generation's derived files with their dense.json / keyword.json, so the imported index opens without
rebuilding them. Import refuses a non-empty target, unpacks beside it, checks every file
against SHA256SUMS (and that nothing unlisted came along), and only then moves the folder into place.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from index import database as db
from index.manifest import MANIFEST_NAME
from index.store import DENSE_META, KEYWORD_META, EmbeddedStore, StoreError, artifact_paths, check_database_file

CHECKSUMS = "SHA256SUMS"


class BackupError(StoreError):
    """An export or import that cannot be done as asked; one line."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_index(folder: Path | str, out: Path | str) -> list[str]:
    """Write the index at `folder` to the tar file `out` (which must not exist); returns the files in it."""
    folder, out = Path(folder), Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists; export to a new file")
    store = EmbeddedStore.open(folder)
    try:
        with store.writer(), tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
            staging = Path(tmp) / "index"
            staging.mkdir()
            with store.write_lock():
                generation = store.generation()
                target = sqlite3.connect(staging / db.DB_NAME)
                try:
                    store.conn.backup(target)
                finally:
                    target.close()
                shutil.copy2(folder / MANIFEST_NAME, staging / MANIFEST_NAME)
                # The derived files with the JSON beside each (change number, checksums): without those
                # an imported index would rebuild FAISS and the keyword index on first open.
                for path in [*artifact_paths(folder, generation), folder / DENSE_META, folder / KEYWORD_META]:
                    if path.is_dir():
                        shutil.copytree(path, staging / path.name)
                    elif path.exists():
                        shutil.copy2(path, staging / path.name)
            names = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
            (staging / CHECKSUMS).write_text("".join(f"{sha256(staging / n)}  {n}\n" for n in names))
            partial = out.with_name(out.name + ".partial")
            with tarfile.open(partial, "w") as tar:
                for name in [CHECKSUMS, *names]:
                    tar.add(staging / name, arcname=name, recursive=False)
            partial.replace(out)
    finally:
        store.close()
    return names


def import_index(archive: Path | str, folder: Path | str) -> list[str]:
    """Unpack an exported index into `folder` (missing or empty), verified against its SHA256SUMS."""
    archive, folder = Path(archive), Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} is not empty; import into a new or empty folder (nothing was changed)")
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.import-"))
    try:
        names = _unpack(archive, staging)
        _verify(archive, staging, names)
        (staging / CHECKSUMS).unlink()  # verified; the folder is a plain index again
        if folder.exists():
            folder.rmdir()
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return names


def _unpack(archive: Path, staging: Path) -> list[str]:
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
                    raise BackupError(f"{archive}: unexpected entry {member.name!r}; not an exported index")
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, BackupError):
            raise
        raise BackupError(f"{archive}: not a readable tar file ({err})") from None
    return sorted(m.name for m in members if m.isfile() and m.name != CHECKSUMS)


def _verify(archive: Path, staging: Path, names: list[str]) -> None:
    listing = staging / CHECKSUMS
    if not listing.is_file():
        raise BackupError(f"{archive}: no {CHECKSUMS} inside; not an exported index")
    expected = {}
    for line in listing.read_text().splitlines():
        digest, _, name = line.partition("  ")
        expected[name] = digest
    if set(expected) != set(names):
        extra, lacking = sorted(set(names) - set(expected)), sorted(set(expected) - set(names))
        raise BackupError(f"{archive}: files and {CHECKSUMS} differ (unlisted: {extra[:3]}, missing: {lacking[:3]})")
    for name in names:
        if sha256(staging / name) != expected[name]:
            raise BackupError(f"{archive}: {name} does not match its checksum; the archive is damaged")
    for needed in (MANIFEST_NAME, db.DB_NAME):
        if needed not in expected:
            raise BackupError(f"{archive}: no {needed} inside; not an exported index")
    check_database_file(staging / db.DB_NAME)
