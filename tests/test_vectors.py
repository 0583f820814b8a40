"""The dense index: exact below the size threshold, IVF-SQ8 above it (recall, masks, save/load, the store)."""

from __future__ import annotations

import numpy as np
import pytest

import index.vectors as vectors_module
from index.vectors import KIND_FLAT, KIND_IVF_SQ8, VectorIndex, ivf_cells


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def clustered(n: int, dim: int, seed: int, centers: int = 200) -> np.ndarray:
    """Unit vectors around random centres (like embeddings of many topics), with overlapping clusters."""
    rng = np.random.default_rng(seed)
    middle = unit(rng.standard_normal((centers, dim)))
    return unit(middle[rng.integers(0, centers, n)] + rng.standard_normal((n, dim)) * (0.8 / np.sqrt(dim)))


def exact(vectors: np.ndarray, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    scores = vectors @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return order[np.isfinite(scores[order])]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return len(set(found.tolist()) & set(truth.tolist())) / len(truth)


# -- small sets: exact ------------------------------------------------------------------------------------


def test_small_set_is_flat_and_exact(tmp_path):
    data = clustered(500, 32, seed=1, centers=20)
    index = VectorIndex.build(data, 32)
    assert index.kind == KIND_FLAT and index.exact and index.size == 500
    rng = np.random.default_rng(2)
    mask = rng.random(500) < 0.3
    for query in data[:20]:
        positions, scores = index.search(query, 10)
        assert positions.tolist() == exact(data, query, 10).tolist()
        np.testing.assert_allclose(scores, data[positions] @ query, rtol=1e-5, atol=1e-5)
        masked, _ = index.search(query, 10, mask)
        assert mask[masked].all()
        assert masked.tolist() == exact(data, query, 10, mask).tolist()

    path = tmp_path / "dense.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, 32)
    assert loaded.kind == KIND_FLAT
    assert loaded.search(data[0], 5)[0].tolist() == index.search(data[0], 5)[0].tolist()


def test_edge_cases():
    data = clustered(50, 16, seed=3, centers=5)
    index = VectorIndex.build(data, 16)
    assert len(index.search(data[0], 0)[0]) == 0
    assert len(index.search(data[0], 10, np.zeros(50, dtype=bool))[0]) == 0
    positions, _ = index.search(data[0], 100)  # k above the size: everything, once
    assert sorted(positions.tolist()) == list(range(50))
    only = np.zeros(50, dtype=bool)
    only[[7, 9]] = True
    assert sorted(index.search(data[0], 10, only)[0].tolist()) == [7, 9]
    empty = VectorIndex.build(np.zeros((0, 16), dtype=np.float32), 16)
    assert empty.size == 0 and len(empty.search(data[0], 5)[0]) == 0


def test_load_refuses_other_dimension(tmp_path):
    path = tmp_path / "dense.faiss"
    VectorIndex.build(clustered(20, 16, seed=4, centers=2), 16).save(path)
    with pytest.raises(ValueError, match="16-d"):
        VectorIndex.load(path, 32)


# -- above the threshold: IVF-SQ8 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ann_case():
    """20k clustered vectors with the threshold lowered so they get the approximate index."""
    data = clustered(20_000, 64, seed=5)
    index = VectorIndex.build(data, 64, exact_max=5_000)
    rng = np.random.default_rng(6)
    queries = unit(data[rng.choice(len(data), 100, replace=False)] + rng.standard_normal((100, 64)) * 0.05)
    return data, index, queries


def test_threshold_picks_the_kind():
    data = clustered(3_000, 16, seed=7, centers=30)
    assert VectorIndex.build(data, 16, exact_max=3_000).kind == KIND_FLAT
    assert VectorIndex.build(data, 16, exact_max=2_999).kind == KIND_IVF_SQ8
    assert ivf_cells(1_000_000) == 2000 and ivf_cells(20_000) == 283 and ivf_cells(10) == 1


def test_ann_recall_against_exact(ann_case):
    data, index, queries = ann_case
    assert index.kind == KIND_IVF_SQ8 and not index.exact and index.size == len(data)
    assert index.nlist == ivf_cells(len(data))
    recalls = [recall(index.search(q, 10)[0], exact(data, q, 10)) for q in queries]
    assert np.mean(recalls) >= 0.95
    positions, scores = index.search(queries[0], 10)
    assert (np.diff(scores) <= 1e-6).all()  # best first
    np.testing.assert_allclose(scores, data[positions] @ queries[0], atol=0.02)  # 8-bit codes: close, not equal


@pytest.mark.parametrize("share", [0.2, 0.01, 0.0005])
def test_ann_honours_masks(ann_case, share):
    """Only allowed positions come back, and narrow masks still find the exact allowed neighbours."""
    data, index, queries = ann_case
    rng = np.random.default_rng(int(share * 10_000))
    mask = rng.random(len(data)) < share
    recalls = []
    for q in queries[:40]:
        positions, _ = index.search(q, 10, mask)
        assert mask[positions].all()
        assert len(set(positions.tolist())) == len(positions)
        truth = exact(data, q, 10, mask)
        assert len(positions) == len(truth)
        recalls.append(recall(positions, truth))
    assert np.mean(recalls) >= 0.95


def test_ann_save_and_load_keep_the_kind(ann_case, tmp_path):
    data, index, queries = ann_case
    path = tmp_path / "dense.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, 64)
    assert loaded.kind == KIND_IVF_SQ8 and loaded.nlist == index.nlist and loaded.nprobe == index.nprobe
    for q in queries[:5]:
        a, b = index.search(q, 10), loaded.search(q, 10)
        assert a[0].tolist() == b[0].tolist()
        np.testing.assert_allclose(a[1], b[1])


def test_more_probes_never_hurt(ann_case):
    data, index, queries = ann_case
    few = np.mean([recall(index.search(q, 10, nprobe=1)[0], exact(data, q, 10)) for q in queries[:30]])
    all_cells = np.mean([recall(index.search(q, 10, nprobe=index.nlist)[0], exact(data, q, 10)) for q in queries[:30]])
    assert all_cells >= few and all_cells >= 0.97


def test_search_leaves_the_thread_count_alone(ann_case):
    import faiss

    data, index, queries = ann_case
    before = faiss.omp_get_max_threads()
    index.search(queries[0], 10)
    assert faiss.omp_get_max_threads() == before


def test_store_uses_the_approximate_index_past_the_threshold(tmp_path, monkeypatch, fake_encoder):
    """The same store code builds, saves and reloads the IVF kind; searches and masks work through it."""
    from index.ingest import build_index
    from index.store import EmbeddedStore

    monkeypatch.setattr(vectors_module, "EXACT_MAX", 0)
    folder = tmp_path / "articles"
    folder.mkdir()
    texts = {
        "bridge.md": "Harbour bridge reopens\n\nThe harbour bridge reopened on Tuesday. Engineers replaced cables.\n",
        "zoo.md": "Zoo welcomes giraffe\n\nThe city zoo welcomed a baby giraffe on Monday. Keepers named her Daisy.\n",
        "flood.md": "River floods farmland\n\nThe river burst its banks near the village. Farmers moved cattle.\n",
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    build_index([str(folder)], tmp_path / "index", fake_encoder)

    for _ in range(2):  # built at commit, then loaded from the saved file
        snapshot = EmbeddedStore.open(tmp_path / "index").snapshot()
        try:
            assert snapshot.vectors.kind == KIND_IVF_SQ8
            query = fake_encoder.encode(["baby giraffe at the zoo"])[0]
            positions, _ = snapshot.search_dense(query, 3)
            assert snapshot.chunk(int(positions[0])).article_id == "zoo"
            mask = snapshot.positions_of_articles({"flood"})
            positions, _ = snapshot.search_dense(query, 3, mask)
            assert {snapshot.chunk(int(p)).article_id for p in positions} == {"flood"}
        finally:
            snapshot.close()


# -- ids: adding and removing in place -----------------------------------------------------------------------


@pytest.mark.parametrize("exact_max", [None, 1_000])  # flat (IndexIDMap2) and IVF-SQ8 (its own ids)
def test_vectors_live_under_ids_and_are_added_and_removed_in_place(tmp_path, exact_max):
    data = clustered(3_000, 16, seed=8, centers=30)
    ids = np.arange(3_000, dtype=np.int64) * 3 + 7  # sparse, like chunk ids after removals
    index = VectorIndex.build(data[:2_500], 16, exact_max=exact_max, ids=ids[:2_500])
    assert index.kind == (KIND_FLAT if exact_max is None else KIND_IVF_SQ8)
    found, scores = index.search(data[10], 1)
    assert found.tolist() == [ids[10]] and scores[0] == pytest.approx(1.0, abs=0.02)
    index.add(ids[2_500:], data[2_500:])
    index.remove(ids[:100])
    assert index.size == 2_900 and index.ids().tolist() == ids[100:].tolist()
    assert index.search(data[2_800], 1)[0].tolist() == [ids[2_800]]
    assert ids[50] not in index.search(data[50], 20)[0].tolist()
    mask = np.zeros(ids[-1] + 1, dtype=bool)  # a mask over the id space
    mask[ids[1_000:1_010]] = True
    masked, _ = index.search(data[1_005], 5, mask)
    assert masked[0] == ids[1_005] and mask[masked].all()
    path = tmp_path / "dense.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, 16)
    assert loaded.ids().tolist() == ids[100:].tolist()
    assert loaded.search(data[2_999], 1)[0].tolist() == [ids[2_999]]


def test_retraining_is_asked_for_when_the_size_drifts(monkeypatch):
    monkeypatch.setattr(vectors_module, "EXACT_MAX", 1_000)
    data = clustered(2_000, 16, seed=9, centers=20)
    ivf = VectorIndex.build(data, 16)
    assert ivf.kind == KIND_IVF_SQ8
    assert not ivf.needs_retraining(2_000, trained_size=2_000)
    assert not ivf.needs_retraining(3_900, trained_size=2_000)
    assert ivf.needs_retraining(4_100, trained_size=2_000)  # more than doubled: new cells
    assert ivf.needs_retraining(900, trained_size=2_000)  # below EXACT_MAX: back to exact search
    flat = VectorIndex.build(data[:500], 16)
    assert not flat.needs_retraining(999, 500) and flat.needs_retraining(1_001, 500)
