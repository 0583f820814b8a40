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
    """The bundled all-MiniLM-L6-v2, loaded once per session; only for tests marked `model`."""
    from index.embed import load_encoder

    return load_encoder()
