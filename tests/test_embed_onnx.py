"""The ONNX Runtime encoder agrees with the sentence-transformers (torch) one, and caches its export."""

from __future__ import annotations

import numpy as np
import pytest

TITLE = "Ad sales boost Time Warner profit"
BODY = ("Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m) for the three months to "
        "December, from $639m year-earlier. The firm, which is now one of the biggest investors in Google, "
        "benefited from sales of high-speed internet connections and higher advert sales. TimeWarner said "
        "fourth quarter sales rose 2% to $11.1bn from $10.9bn. Its profits were buoyed by one-off gains which "
        "offset a profit dip at Warner Bros, and less users for AOL.")
TEXTS = [
    "The central bank raised interest rates by a quarter point.",
    "Chelsea beat Arsenal 2-1 at Stamford Bridge on Sunday.",
    "A new smartphone with a foldable screen goes on sale next month in Europe and Asia.",
    "Hi",
    f"{TITLE}\n{BODY}",
    # longer than the model's 256 tokens: both backends must truncate the same way
    " ".join(["The committee published its report on the state of the economy, warning of slower growth."] * 25),
]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64), axis=1)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_fp32(onnx_cache):
    from index.embed_onnx import OnnxEncoder

    return OnnxEncoder(quantize=False, cache_dir=onnx_cache)


@pytest.fixture(scope="module")
def onnx_int8(onnx_cache, onnx_fp32):  # after fp32: quantizes the cached fp32 export
    from index.embed_onnx import OnnxEncoder

    return OnnxEncoder(quantize=True, cache_dir=onnx_cache)


def chunk_with_spans():
    from index.sentences import split_sentences

    text = f"{TITLE}\n{BODY}"
    prefix = len(TITLE) + 1
    spans = [(prefix + s.start, prefix + s.end) for s in split_sentences(BODY)]
    assert len(spans) == 4
    return text, spans


@pytest.mark.model
def test_names_differ_by_backend(torch_encoder, onnx_fp32, onnx_int8):
    names = {torch_encoder.name, onnx_fp32.name, onnx_int8.name}
    assert len(names) == 3
    assert onnx_fp32.name == "all-MiniLM-L6-v2+onnx" and onnx_int8.name == "all-MiniLM-L6-v2+onnx-int8"
    assert (onnx_fp32.dim, onnx_fp32.max_tokens) == (torch_encoder.dim, torch_encoder.max_tokens) == (384, 256)


@pytest.mark.model
def test_tokens_match_the_torch_tokenizer(torch_encoder, onnx_fp32):
    assert onnx_fp32.count_tokens(TEXTS) == torch_encoder.count_tokens(TEXTS)
    assert max(onnx_fp32.count_tokens(TEXTS)) > 256
    expected = torch_encoder.tokenizer(TEXTS, truncation=True, max_length=256)["input_ids"]
    assert [e.ids for e in onnx_fp32._tokenizer.encode_batch(TEXTS)] == expected


@pytest.mark.model
def test_fp32_vectors_match_torch(torch_encoder, onnx_fp32):
    expected = torch_encoder.encode(TEXTS)
    got = onnx_fp32.encode(TEXTS)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosine_rows(got, expected).min() >= 0.9999


@pytest.mark.model
def test_int8_vectors_stay_close_to_torch(torch_encoder, onnx_int8):
    cos = cosine_rows(onnx_int8.encode(TEXTS), torch_encoder.encode(TEXTS))
    assert cos.mean() >= 0.99 and cos.min() >= 0.97  # the shortest text ("Hi") drifts most


@pytest.mark.model
@pytest.mark.parametrize("batch_size", [1, 4])
def test_order_and_batching_do_not_change_vectors(onnx_fp32, onnx_int8, batch_size, monkeypatch):
    monkeypatch.setattr(onnx_fp32, "batch_size", batch_size)
    whole = onnx_fp32.encode(TEXTS)
    one_by_one = np.vstack([onnx_fp32.encode([t]) for t in TEXTS])
    assert cosine_rows(whole, one_by_one).min() >= 0.99999
    assert onnx_fp32.encode([]).shape == (0, 384) and onnx_fp32.count_tokens([]) == []
    assert onnx_fp32.encode_with_sentences([], [])[0].shape == (0, 384)
    # int8 is batch-invariant at batch 1 (the default; activations are quantized per tensor)
    assert onnx_int8.batch_size == 1
    np.testing.assert_allclose(onnx_int8.encode(TEXTS), onnx_int8.encode(TEXTS[::-1])[::-1], atol=1e-6)


@pytest.mark.model
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_sentence_span_vectors_match_torch(torch_encoder, onnx_fp32, onnx_int8, precision):
    encoder = onnx_fp32 if precision == "fp32" else onnx_int8
    text, spans = chunk_with_spans()
    texts, all_spans = [TEXTS[0], text], [[(0, len(TEXTS[0]))], spans]
    expected_chunks, expected_sentences = torch_encoder.encode_with_sentences(texts, all_spans)
    chunks, sentences = encoder.encode_with_sentences(texts, all_spans)
    assert [s.shape for s in sentences] == [(1, 384), (4, 384)]
    chunk_cos = cosine_rows(chunks, expected_chunks)
    sentence_cos = np.concatenate([cosine_rows(a, b) for a, b in zip(sentences, expected_sentences, strict=True)])
    if precision == "fp32":
        assert chunk_cos.min() >= 0.9999 and sentence_cos.min() >= 0.9999
    else:
        assert chunk_cos.min() >= 0.98 and sentence_cos.mean() >= 0.98 and sentence_cos.min() >= 0.95
    # the chunk vectors are the same as encode()'s, and each sentence is closest to its own text
    assert cosine_rows(chunks, encoder.encode(texts)).min() >= 0.99999
    alone = encoder.encode([text[a:b] for a, b in spans])
    assert (np.argmax(sentences[1] @ alone.T, axis=1) == np.arange(4)).all()


@pytest.mark.model
def test_reloading_uses_the_cached_export(onnx_cache, onnx_fp32, onnx_int8, monkeypatch):
    import index.embed_onnx as embed_onnx

    assert onnx_fp32.exported and onnx_int8.exported  # the fixtures did the one export
    assert onnx_fp32.export_dir == onnx_int8.export_dir
    files = {p.name: p.stat().st_mtime_ns for p in onnx_int8.export_dir.iterdir()}
    assert {"model.onnx", "model-int8.onnx", "export.json"} <= set(files)

    def refuse(*_args, **_kwargs):
        raise AssertionError("exported again despite the cache")

    monkeypatch.setattr(embed_onnx, "_export_torch", refuse)
    monkeypatch.setattr(embed_onnx, "_quantize", refuse)
    for quantize, first in ((True, onnx_int8), (False, onnx_fp32)):
        again = embed_onnx.OnnxEncoder(quantize=quantize, cache_dir=onnx_cache)
        assert not again.exported and again.model_path == first.model_path
        assert cosine_rows(again.encode(TEXTS[:2]), first.encode(TEXTS[:2])).min() >= 0.99999
    assert {p.name: p.stat().st_mtime_ns for p in onnx_int8.export_dir.iterdir()} == files


def test_load_encoder_picks_the_backend(monkeypatch):
    import index.embed as embed
    import index.embed_onnx as embed_onnx

    made = []

    class Stub:
        def __init__(self, model=None, quantize=True, **_):
            made.append((model, quantize))

    monkeypatch.setattr(embed_onnx, "OnnxEncoder", Stub)
    assert isinstance(embed.load_encoder(backend="onnx"), Stub)
    assert isinstance(embed.load_encoder("some-model", backend="onnx-int8"), Stub)
    assert made == [(None, False), ("some-model", True)]
    with pytest.raises(ValueError, match="backend"):
        embed.load_encoder(backend="tensorflow")
    with pytest.raises(ValueError, match="CPU"):
        embed.load_encoder(backend="onnx", device="cuda")


def test_the_bundled_model_defaults_to_int8_on_the_cpu_and_others_to_torch(monkeypatch):
    from index import embed, embed_onnx

    assert embed.default_backend() == "onnx-int8"
    assert embed.default_backend("all-MiniLM-L6-v2", "cpu") == "onnx-int8"
    assert embed.default_backend(None, "cuda") == "torch"  # ONNX int8 runs on the CPU only
    assert embed.default_backend("/models/another") == "torch"  # its int8 quality was never measured
    made = []
    monkeypatch.setattr(embed_onnx, "OnnxEncoder", lambda model=None, quantize=True, **_: made.append(quantize))
    monkeypatch.setattr(embed, "SentenceTransformerEncoder", lambda model=None, device="cpu": made.append(device))
    embed.load_encoder()
    embed.load_encoder(device="cuda")
    embed.load_encoder("/models/another")
    assert made == [True, "cuda", "cpu"]
