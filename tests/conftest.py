"""Shared fixtures: the fast fake encoder, a temporary index folder, and (for `model` tests) the real model."""

from __future__ import annotations

import pytest

from tests.fakes import FakeEncoder


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    """Deterministic hashing encoder: instant, and it counts what it encodes (`texts_encoded`)."""
    return FakeEncoder()


@pytest.fixture
def tmp_index(tmp_path):
    """Where a test's index goes; not created yet (ingestion creates it)."""
    return tmp_path / "index"


@pytest.fixture(scope="session")
def real_encoder():
    """The bundled all-MiniLM-L6-v2 as users get it by default (int8 ONNX on the CPU), loaded once per
    session; only for tests marked `model`."""
    from index.embed import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def torch_encoder():
    """The same model on the exact torch fp32 path, the reference the ONNX backends are checked against."""
    from index.embed import load_encoder

    return load_encoder(backend="torch")


@pytest.fixture(scope="module")
def demo(real_encoder, tmp_path_factory):
    """The bundled demo corpus indexed with the real model (for `model` tests), one per test module."""
    from assistant.engine import Assistant
    from index.demo import demo_files
    from index.ingest import build_index

    index_dir = tmp_path_factory.mktemp("demo-index")
    build_index(demo_files(), index_dir, real_encoder)
    assistant = Assistant.load(index_dir, encoder=real_encoder)
    yield assistant
    assistant.close()


@pytest.fixture(scope="session", autouse=True)
def private_cache_home(tmp_path_factory):
    """Tests never read or write the user's cache (demo index, ONNX exports): each run gets its own."""
    import os

    previous = os.environ.get("ARTICLE_ASSISTANT_HOME")
    os.environ["ARTICLE_ASSISTANT_HOME"] = str(tmp_path_factory.mktemp("assistant-home"))
    yield
    if previous is None:
        os.environ.pop("ARTICLE_ASSISTANT_HOME", None)
    else:
        os.environ["ARTICLE_ASSISTANT_HOME"] = previous


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, home, check: bool = True):
    """`python -m assistant.cli ARGS` in a subprocess with its own cache home; by default it must not crash
    with a traceback."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ARTICLE_ASSISTANT_HOME": str(home), "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "assistant.cli", *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
    if check:
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


# Every store the engine must behave the same on; conformance tests take `backend` (or parametrize with this).
BACKENDS = ("embedded", pytest.param("milvus", marks=pytest.mark.milvus))


@pytest.fixture(scope="session")
def local_milvus(tmp_path_factory):
    """The standalone Milvus started for this session (the `milvus` package's 2.3.5 binary) in a temporary
    folder and stopped cleanly at the end; None when ARTICLE_ASSISTANT_TEST_MILVUS names a server already
    running. Skipped only when the `milvus` extra is not installed."""
    import os

    if os.environ.get("ARTICLE_ASSISTANT_TEST_MILVUS"):
        yield None
        return
    try:
        import milvus  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        pytest.skip("Milvus tests need the 'milvus' extra (pip install -e '.[milvus]')")
    from index.milvus_server import LocalMilvus

    server = LocalMilvus(tmp_path_factory.mktemp("milvus-data"), port=free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def milvus_server(local_milvus):
    """HOST:PORT of a real Milvus for this session: ARTICLE_ASSISTANT_TEST_MILVUS if set, else local_milvus."""
    import os

    return os.environ.get("ARTICLE_ASSISTANT_TEST_MILVUS") or f"127.0.0.1:{local_milvus.port}"


@pytest.fixture(scope="session")
def lite_milvus(tmp_path_factory):
    """HOST:PORT of a milvus-lite server (pure Python, in this process: it has the BM25 function that the
    2.3.5 standalone lacks). Skipped when milvus-lite is not installed."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from milvus_lite.adapter.grpc.server import start_server_in_thread

    server, db, port = start_server_in_thread(str(tmp_path_factory.mktemp("milvus-lite")), port=0)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=1)
        db.close()


def new_milvus_location(server: str) -> str:
    import uuid

    return f"milvus://{server}/t{uuid.uuid4().hex[:12]}"


def drop_milvus(location: str) -> None:
    from index.backends import open_store
    from index.store import IndexNotFound

    try:
        store = open_store(location)
    except IndexNotFound:
        return
    store.drop()
    store.close()


def location_for(backend: str, request, folder):
    """Where a test's index goes on this backend: `folder` (embedded), or a fresh NAME on the session's
    Milvus, dropped when the requesting test (or module) ends."""
    if backend == "embedded":
        return folder
    location = new_milvus_location(request.getfixturevalue("milvus_server"))
    request.addfinalizer(lambda: drop_milvus(location))
    return location


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def index_location(backend, request, tmp_path):
    """A not-yet-created index on the test's backend."""
    return location_for(backend, request, tmp_path / "index")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    """The UI tests' tiny index (tests.fakes.UI_ARTICLES) behind an Assistant, one per module.
    (tests/test_engine.py has its own fixture of this name.)"""
    from tests.fakes import make_ui_assistant

    engine = make_ui_assistant(tmp_path_factory)
    yield engine
    engine.close()


@pytest.fixture
def events(assistant):
    from ui.events import Events

    return Events(assistant)


@pytest.fixture
def news(tmp_path):
    """An index of the three shared news articles (fake encoder), its store closed."""
    from index.ingest import build_index
    from tests.fakes import NEWS_ARTICLES

    folder = tmp_path / "in"
    folder.mkdir()
    for name, text in NEWS_ARTICLES.items():
        (folder / name).write_text(text)
    build_index([str(folder)], tmp_path / "index", FakeEncoder())
    return tmp_path / "index"


@pytest.fixture
def cli(monkeypatch, capsys):
    """`assistant ...` in-process with the fake model; returns (exit code, stdout, stderr), never a traceback."""
    import assistant.commands
    from assistant.cli import main

    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        assert "Traceback" not in out.out + out.err
        return code, out.out, out.err
    return run
