"""A deterministic stand-in for the embedding model: hashed bag of word stems, unit length.

Texts sharing words get similar vectors, so rankings in tests are predictable and instant."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_STOP = {"the", "a", "an", "of", "to", "in", "and", "or", "is", "was", "it", "on", "for", "by", "with", "its",
         "that", "this", "what", "did", "does", "do", "which", "who", "how", "at", "as", "be", "are", "from"}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


class FakeEncoder:
    name = "fake-hash-encoder"
    max_tokens = 256

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.calls = 0
        self.texts_encoded = 0

    def words(self, text: str) -> list[str]:
        return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self.words(text):
                digest = hashlib.md5(word.encode()).digest()
                out[row, digest[0] % self.dim] += 1.0 if digest[1] % 2 else -1.0
        out[:, 0] += 1e-3  # no zero vectors
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]
