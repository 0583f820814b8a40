"""The import graph the README promises: ui → assistant → index; eval uses assistant and index (and the
app's Evaluation tab uses eval). Every import counts, the lazy ones inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "assistant", "ui", "eval")
ALLOWED = {
    "index": set(),
    "assistant": {"index"},
    "eval": {"assistant", "index"},
    "ui": {"assistant", "index", "eval"},
}


def package_imports(package: str) -> dict[str, set[str]]:
    """Other project packages each module of `package` imports -> the modules that do it."""
    found: dict[str, set[str]] = {}
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_imports_point_one_way():
    wrong = {f"{package} -> {other}": sorted(where) for package in PACKAGES
             for other, where in package_imports(package).items() if other not in ALLOWED[package]}
    assert not wrong, wrong


def test_the_python_api_has_one_front_door():
    import assistant

    assert {"Assistant", "AskOptions", "Filters", "Answer"} <= set(assistant.__all__)
    from assistant import AskOptions, Assistant, Filters  # noqa: F401


def test_the_embedded_snapshot_implements_the_whole_protocol(tmp_path, fake_encoder):
    from assistant.engine import Assistant
    from index.ingest import build_index
    from index.store import Snapshot, Store
    from tests.fakes import NEWS_ARTICLES

    for name, text in NEWS_ARTICLES.items():
        (tmp_path / name).write_text(text)
    build_index([str(tmp_path)], tmp_path / "idx", fake_encoder)
    engine = Assistant.load(tmp_path / "idx", encoder=fake_encoder)
    try:
        assert isinstance(engine.store, Store) and isinstance(engine.snapshot, Snapshot)
        protocol = {n for n in dir(Snapshot) if not n.startswith("_")} | set(Snapshot.__annotations__)
        assert all(hasattr(engine.snapshot, n) for n in protocol)
        keys = engine.snapshot.chunk_article_keys
        assert keys.dtype.kind == "i" and len(keys) == engine.snapshot.size
        assert len(set(keys.tolist())) == len(NEWS_ARTICLES)  # one key per article, opaque otherwise
        from index.filters import Filters

        snapshot = engine.snapshot
        assert snapshot.mask(None) is None and snapshot.mask(Filters()) is None
        harbor = snapshot.mask(Filters(sources=("harbor times",)))  # sources match case-insensitively
        assert set(snapshot.chunk_sources[harbor]) == {"Harbor Times"}
        june = snapshot.mask(Filters(date_from="2020-06-09", date_to="2020-06-30"))
        assert set(snapshot.chunk_dates[june]) == {"2020-06-10"}
    finally:
        engine.close()


def test_open_store_dispatches_on_the_location(tmp_path, fake_encoder):
    import pytest

    from index.backends import backend_name, open_store
    from index.ingest import build_index
    from index.manifest import IndexMismatch
    from index.store import EmbeddedStore, IndexNotFound

    (tmp_path / "a.txt").write_text("Ferries stopped at the harbour on Friday.")
    build_index([str(tmp_path / "a.txt")], tmp_path / "idx", fake_encoder)
    store = open_store(tmp_path / "idx")
    assert isinstance(store, EmbeddedStore) and backend_name(tmp_path / "idx") == "embedded"
    store.close()
    with pytest.raises(IndexNotFound):
        open_store(tmp_path / "nothing-here")
    with pytest.raises(IndexMismatch, match="unknown store 'ftp'"):
        open_store("ftp://example/x")
