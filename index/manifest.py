"""The index folder describes itself: model, dimension, chunking and format version."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT_VERSION = 2  # 2: the vectors table holds sentence vectors too (a format-1 index cannot take them)
MANIFEST_NAME = "manifest.json"


class IndexMismatch(Exception):
    """The index on disk was built differently from what this run asks for."""


@dataclass(frozen=True)
class Manifest:
    model: str
    dim: int
    chunking: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    store: str = "embedded"  # FAISS + BM25 + SQLite

    def check_compatible(self, other: Manifest, index_dir: Path) -> None:
        if self.format_version != other.format_version:
            raise IndexMismatch(
                f"{index_dir}: index format {self.format_version}, this version reads {other.format_version}; "
                "ingest into another --index folder (or delete this one and ingest again)"
            )
        if self.model == other.model and self.dim != other.dim:
            raise IndexMismatch(
                f"{index_dir}: built with model '{self.model}' giving {self.dim}-d vectors, but the '{self.model}' "
                f"loaded here gives {other.dim}-d ones; pass --model with the copy that built it, or use another "
                "--index folder"
            )
        if self.model != other.model or self.dim != other.dim:
            raise IndexMismatch(
                f"{index_dir}: built with model '{self.model}' ({self.dim}-d), not '{other.model}' "
                f"({other.dim}-d); pass --model {self.model} or use another --index folder"
            )
        if self.chunking != other.chunking:
            raise IndexMismatch(
                f"{index_dir}: built with chunking {self.chunking}, not {other.chunking}; use another --index folder"
            )


def read_manifest(index_dir: Path) -> Manifest | None:
    path = index_dir / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Manifest(**data)
    except (ValueError, TypeError) as err:
        msg = f"{path}: unreadable manifest ({err}); this folder is not an index of this version"
        raise IndexMismatch(msg) from None


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    atomic_write_bytes(index_dir / MANIFEST_NAME, json.dumps(asdict(manifest), indent=2).encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write beside, flush to disk, then rename: readers see the old file or the new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
