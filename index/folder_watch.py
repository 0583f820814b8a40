"""A folder watched for new files: each round, the article files (index/load.py's types) that are new or
changed since the last round are ingested, with the ids `assistant ingest FOLDER` gives them.

A file counts as changed when its size or modification time moved; one modified in the last `settle`
seconds is left for the next round (it may still be being written). Hidden files and other types (an
editor's swap file, a download's .part) are passed over in silence. The state lives in the watching
process: after a restart the first round reads every file again, and the store skips the unchanged ones
by their content hash without embedding anything. Every bad file or record is one line, once per
version of the file; nothing stops the watch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from index.load import SUPPORTED, load_file

Stamp = tuple[int, int]  # (size, mtime_ns)


@dataclass
class FolderState:
    """What the last rounds saw: file → its stamp when ingested (or found bad)."""

    seen: dict[Path, Stamp] = field(default_factory=dict)


def changed_files(folder: Path, state: FolderState, settle: float = 2.0,
                  clock: Callable[[], float] = time.time) -> list[tuple[Path, Stamp]]:
    """New or changed article files under `folder` (sorted), leaving out those modified within `settle` s."""
    now = clock()
    out = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.suffix.lower() not in SUPPORTED:
            continue
        try:
            info = path.stat()
        except OSError:  # removed between the listing and the stat
            continue
        if not path.is_file():
            continue
        stamp = (info.st_size, info.st_mtime_ns)
        if state.seen.get(path) != stamp and now - info.st_mtime_ns / 1e9 >= settle:
            out.append((path, stamp))
    return out


def poll_folder(store, folder: Path, encoder, settings, state: FolderState, settle: float = 2.0,
                clock: Callable[[], float] = time.time):
    """Ingest the new and changed files in one commit; returns (files taken, IngestReport)."""
    from index.ingest import IngestReport, ingest_into

    files = changed_files(folder, state, settle, clock)
    if not files:
        return [], IngestReport()

    def items():
        for path, _ in files:
            yield from load_file(path, id_base=path.relative_to(folder).with_suffix("").as_posix())

    report = ingest_into(store, items(), encoder, settings)
    for path, stamp in files:  # a bad file too: reported once, again only when it changes
        state.seen[path] = stamp
    return [p for p, _ in files], report
