"""FAISS over unit vectors: exact inner product (cosine) up to EXACT_MAX vectors, approximate above.

Below EXACT_MAX an `IndexFlatIP` (1,536 bytes a 384-d vector, every search exact). Above it an
`IndexIVFScalarQuantizer` with 8-bit codes per dimension (384 bytes a 384-d vector plus an 8-byte id):
k-means coarse cells, residuals quantized per dimension. Measured with `python -m eval.bench_scale`
(see its docstring for the numbers behind these choices). The kind is part of the file faiss writes, so
`load` needs no hint; `kind` tells which one a loaded index is.

Masks (boolean over positions) go to faiss as a bitmap selector. For the IVF index a mask also widens
the search: with a fraction f of positions allowed, nprobe/f cells are scanned (at most all of them),
so about as many allowed candidates are scored as an unmasked search scores; a narrow mask therefore
scans every cell and is exact over the allowed positions (up to the 8-bit codes). With `widen=False` (a
time prior's window list) the usual cells are scanned and the allowed vectors among them kept: the cost
of an unmasked search.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

# Vectors up to this count get the exact flat index. Measured on 2 shared, busy cores (eval/bench_scale.py,
# 384-d, k=100, 1 search thread): flat is ~18 ms a query and 384 MB at 250k, ~60 ms and 1.5 GB at 1M, built
# in under a second; IVF-SQ8 is 0.5 ms / 100 MB at 250k and 1.3-1.7 ms / 395 MB at 1M with recall@10
# 0.985-0.99 against exact, but costs 16 s (250k) to 55 s (1M) to build at every commit. Up to 250k exact
# search stays near the cost of the rest of a question (ask() p50 ~12 ms) in under 400 MB, with no build
# time; past it flat latency and RAM grow linearly, so larger indexes trade exactness for them.
EXACT_MAX = 250_000
KIND_FLAT = "flat"
KIND_IVF_SQ8 = "ivf-sq8"

# IVF parameters: cells ~ 2*sqrt(n) (at least 39 training points a cell), cells scanned per query.
# On the real RealTime QA chunk vectors (26k, 324 cells) recall@10 was 0.95 / 0.977 / 0.989 / 0.995 at
# nprobe 8 / 16 / 32 / 64 (30k: 0.968 / 0.982 / 0.993 at 16 / 32 / 64); 64 keeps a margin for larger
# corpora, whose neighbours may spread over more cells, and costs ~1.5 ms a query at 1M.
NPROBE = 64
MIN_NPROBE_FRACTION = 1 / 32  # never scan fewer than this share of the cells
TRAIN_POINTS_PER_CELL = 64
KMEANS_ITERATIONS = 12
# OpenMP threads for one query's search (set per calling thread, restored after). Measured on the shared
# 2-core box with one core busy: a flat search over 250k vectors takes ~17 ms on 1 thread and 85-105 ms on
# 2 (30k: 2 ms vs 36 ms), as the second thread waits for a busy core. Builds keep all threads.
SEARCH_THREADS = 1


def ivf_cells(n: int) -> int:
    """Coarse cells for n vectors: ~2*sqrt(n), with at least 39 vectors a cell (faiss' own floor)."""
    return int(max(1, min(round(2 * math.sqrt(n)), n // 39)))


def default_nprobe(nlist: int) -> int:
    return int(min(nlist, max(NPROBE, math.ceil(nlist * MIN_NPROBE_FRACTION))))


class VectorIndex:
    """Vectors under integer ids (the store uses chunk ids; without ids, 0..n-1). Searches return ids; a
    mask is boolean over the id space (mask[id] true = allowed). Adding and removing by id touch only those
    vectors: an `IndexIDMap2` around the flat index, the IVF index's own ids (a trained quantizer takes new
    vectors without retraining; the store retrains when the size has drifted, see `needs_retraining`)."""

    def __init__(self, index, dim: int, nprobe: int | None = None):
        self.index = index
        self.dim = dim
        self.nlist = int(getattr(index, "nlist", 0) or 0)
        self.nprobe = int(nprobe or (default_nprobe(self.nlist) if self.nlist else 0))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def kind(self) -> str:
        return KIND_IVF_SQ8 if self.nlist else KIND_FLAT

    @property
    def exact(self) -> bool:
        return not self.nlist

    @classmethod
    def build(cls, vectors: np.ndarray, dim: int, exact_max: int | None = None, nlist: int | None = None,
              nprobe: int | None = None, seed: int = 1234, ids: np.ndarray | None = None) -> VectorIndex:
        """Exact flat index up to `exact_max` vectors (default EXACT_MAX), IVF-SQ8 above it."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        ids = np.arange(len(vectors), dtype=np.int64) if ids is None else np.ascontiguousarray(ids, dtype=np.int64)
        limit = EXACT_MAX if exact_max is None else exact_max
        if len(vectors) <= limit:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            if len(vectors):
                index.add_with_ids(vectors, ids)
            return cls(index, dim)
        return cls(_build_ivf_sq8(vectors, dim, nlist or ivf_cells(len(vectors)), seed, ids), dim, nprobe)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim),
                                    np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids) -> None:
        """Remove these ids (those not present are ignored)."""
        import faiss

        ids = np.ascontiguousarray(np.fromiter(ids, dtype=np.int64) if not isinstance(ids, np.ndarray) else ids,
                                   dtype=np.int64)
        if len(ids) and self.size:
            self.index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))

    def ids(self) -> np.ndarray:
        """Every stored id (sorted): the flat index's id map, or the IVF lists' ids."""
        import faiss

        if not self.nlist:
            return np.sort(faiss.vector_to_array(self.index.id_map).astype(np.int64))
        invlists = self.index.invlists
        parts = [faiss.rev_swig_ptr(invlists.get_ids(c), invlists.list_size(c)).copy()
                 for c in range(self.nlist) if invlists.list_size(c)]
        return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def wants_kind(self, n: int) -> str:
        return KIND_FLAT if n <= EXACT_MAX else KIND_IVF_SQ8

    def needs_retraining(self, n: int, trained_size: int) -> bool:
        """Whether an index of n vectors should be rebuilt: the kind EXACT_MAX picks has changed, or an IVF
        index has grown past twice (or shrunk under half) the size its cells were trained on."""
        if self.wants_kind(n) != self.kind:
            return True
        return bool(self.nlist) and not (trained_size / 2 <= n <= trained_size * 2)

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

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None = None,
               nprobe: int | None = None, widen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) best first, for one query vector; only ids where mask is true. With `widen` off, an
        IVF search scans the usual cells whatever the mask (the allowed vectors among them: what a time
        prior's window list needs, at the cost of an unmasked search) instead of widening to keep the
        number of allowed candidates."""
        import faiss

        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        if self.size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        selector, bitmap, allowed = None, None, self.size
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            allowed = int(np.count_nonzero(mask))
            if allowed == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if allowed < self.size:
                bitmap = np.packbits(mask, bitorder="little")
                selector = faiss.IDSelectorBitmap(bitmap)
        if self.nlist:
            probes = nprobe or self.nprobe
            if selector is not None and widen:  # as many allowed candidates as an unmasked search would see
                probes = math.ceil(probes * self.size / allowed)
            params = faiss.SearchParametersIVF(nprobe=int(min(self.nlist, probes)))
            if selector is not None:
                params.sel = selector
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(SEARCH_THREADS)  # this thread's OpenMP setting only
        try:
            scores, positions = self.index.search(query, min(k, allowed), params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        del selector, bitmap  # kept alive until here: faiss holds raw pointers to them
        keep = positions[0] >= 0
        return positions[0][keep].astype(np.int64), scores[0][keep]


def _build_ivf_sq8(vectors: np.ndarray, dim: int, nlist: int, seed: int, ids: np.ndarray):
    """IVF with 8-bit per-dimension scalar quantization of the residuals, inner product."""
    import faiss

    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = KMEANS_ITERATIONS
    index.cp.seed = seed
    index.cp.spherical = True  # unit-length centroids: cells by cosine, like the vectors
    index.cp.max_points_per_centroid = TRAIN_POINTS_PER_CELL
    n_train = min(len(vectors), nlist * TRAIN_POINTS_PER_CELL)
    if n_train < len(vectors):
        sample = np.random.default_rng(seed).choice(len(vectors), n_train, replace=False)
        train = vectors[np.sort(sample)]
    else:
        train = vectors
    index.train(train)
    index.add_with_ids(vectors, ids)
    index.nprobe = default_nprobe(nlist)
    return index
