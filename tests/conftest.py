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
