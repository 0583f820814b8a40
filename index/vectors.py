"""FAISS over unit vectors: exact inner product (cosine) by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class VectorIndex:
    """Positions 0..n-1 follow the snapshot's chunk order."""

    def __init__(self, index, dim: int):
        self.index = index
        self.dim = dim

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, dim: int) -> VectorIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        index = faiss.IndexFlatIP(dim)
        if len(vectors):
            index.add(vectors)
        return cls(index, dim)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex:
        import faiss

        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path}: vectors are {index.d}-d, the manifest says {dim}")
        return cls(index, dim)

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) best first, for one query vector; only positions where mask is true."""
        import faiss

        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        if self.size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if mask is not None:
            allowed = np.flatnonzero(mask).astype(np.int64)
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        scores, positions = self.index.search(query, min(k, self.size), params=params)
        keep = positions[0] >= 0
        return positions[0][keep].astype(np.int64), scores[0][keep]
