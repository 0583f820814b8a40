"""One front door to every store: `open_store(location)` picks the backend from the location.

A folder opens the backend its manifest names (`manifest.store`, "embedded" for FAISS + BM25 +
SQLite); a URI opens the backend of its scheme (`milvus://HOST:PORT/NAME`). Backends register
here by name, imported only when used, so the embedded default pulls in no client library."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from index.manifest import IndexMismatch, Manifest, read_manifest
from index.store import Store

# manifest.store or URI scheme -> "module:class" with a classmethod open(location, expected, create)
BACKENDS = {
    "embedded": "index.store:EmbeddedStore",
    "milvus": "index.milvus:MilvusStore",
}


def is_uri(location: Path | str | None) -> bool:
    return isinstance(location, str) and "://" in location


def backend_name(location: Path | str) -> str:
    """Which backend serves this location: the URI's scheme, else the folder manifest's `store`."""
    if is_uri(location):
        return str(location).split("://", 1)[0].lower()
    folder = Path(location).expanduser()
    manifest = read_manifest(folder) if folder.is_dir() else None
    return manifest.store if manifest else "embedded"


def open_store(location: Path | str, expected: Manifest | None = None, create: bool = False) -> Store:
    """Open (with `create`, make) the store at a folder or URI; refuses a differently built index."""
    name = backend_name(location)
    if name not in BACKENDS:
        raise IndexMismatch(f"{location}: unknown store '{name}' (known: {', '.join(sorted(BACKENDS))})")
    module, _, cls = BACKENDS[name].partition(":")
    try:
        backend = getattr(import_module(module), cls)
    except ModuleNotFoundError as err:
        if err.name == module:
            raise IndexMismatch(f"{location}: the '{name}' store is not available in this version") from None
        raise IndexMismatch(f"{location}: the '{name}' store needs the package '{err.name}' "
                            f"(pip install 'article-assistant[{name}]')") from None
    target = location if is_uri(location) else Path(location).expanduser()
    return backend.open(target, expected=expected, create=create)


def manifest_at(location: Path | str) -> Manifest | None:
    """The manifest of an existing index (a folder's file, or read from the server for a URI), else None."""
    from index.store import IndexNotFound

    if not is_uri(location):
        folder = Path(location).expanduser()
        return read_manifest(folder) if folder.exists() else None
    try:
        store = open_store(location)
    except IndexNotFound:
        return None
    try:
        return store.manifest
    finally:
        store.close()
