"""The bundled sentence-transformers model run by ONNX Runtime (fp32, or dynamic int8 by default).

The ONNX graph is exported once from the model's own weights (torch.onnx's TorchScript exporter),
its attention/LayerNorm/GELU patterns fused by onnxruntime's transformer optimizer, and - for int8 -
quantized dynamically with per-channel int8 weights. The files are cached under
`cache_home()/onnx/<model>-<weights hash>/`; later loads need neither torch nor transformers.

Semantics match the sentence-transformers model: its fast tokenizer truncating at max_seq_length,
mean pooling over the attention mask, unit-length rows. The graph also returns the token
embeddings, so `encode_with_sentences` pools sentence spans from the same forward pass.
Measured numbers: `python -m eval.bench_encoders`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embed import normalize_rows, pool_spans, resolve_model_path

# Part of the cache key: bump when the export recipe changes (2: redo exports quantized by onnxruntime 1.31+).
EXPORT_VERSION = 2
OPSET = 17
# Texts per session.run. Measured (eval/bench_encoders.py, 2 shared cores): batch 1 needs the least CPU
# per chunk (int8 24 ms vs 31 ms at 16; fp32 55 vs 57) and keeps int8 vectors independent of their batch
# neighbours - dynamic quantization scales activations per tensor, so padding and other rows shift them
# (cosine ~0.99 between the same text embedded alone and in a batch of 16). Larger batches sort by length.
DEFAULT_BATCH = 1
# Runs of at most this many tokens (a question, an answer's sentences) made while another run is in flight
# go to a second, one-thread session: answers served side by side then each use one core instead of all
# contending for both (measured: 10 HTTP clients on the demo corpus, p95 252-275 -> 224-237 ms, server CPU
# per question 30-33 -> 27.5 ms; eval/RESULTS.md, session 4). Alone, a run keeps all cores (a single
# question is ~2 ms faster so), and so do chunks at ingest.
SMALL_RUN_TOKENS = 96
FP32_FILE, INT8_FILE, META_FILE = "model.onnx", "model-int8.onnx", "export.json"


class OnnxEncoder:
    """Encoder protocol on ONNX Runtime (CPU). `name` carries the backend, so an index built with it
    never mixes with vectors of the torch model (or of the other precision)."""

    def __init__(self, model: str | None = None, quantize: bool = True, cache_dir: str | os.PathLike | None = None,
                 threads: int | None = None, batch_size: int = DEFAULT_BATCH):
        import onnxruntime as ort

        base_name, path = resolve_model_path(model)
        self.model_dir = Path(path)
        self.quantize = quantize
        self.name = f"{base_name}+onnx-int8" if quantize else f"{base_name}+onnx"
        self.batch_size = batch_size

        config = _read_json(self.model_dir / "config.json")
        st_config = _read_json(self.model_dir / "sentence_bert_config.json")
        _check_pooling(self.model_dir)
        self.dim = int(config["hidden_size"])
        self.max_tokens = int(st_config.get("max_seq_length") or min(config.get("max_position_embeddings", 512), 512))
        self.lowercase = bool(st_config.get("do_lower_case", False))

        self.export_dir = export_dir(self.model_dir, base_name, cache_dir)
        self.model_path, self.exported = ensure_exported(self.model_dir, self.export_dir, quantize)

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or 0)  # 0: ONNX Runtime's choice (physical cores)
        options.inter_op_num_threads = 1
        # Measured on the shared 2-core box: no spinning is as fast and burns ~20% less CPU.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        self._small_session = None  # made on the first crowded short run: only a server ever needs it
        self._runs, self._runs_lock = 0, threading.Lock()

        self._tokenizer = _load_tokenizer(self.model_dir)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._counter = _load_tokenizer(self.model_dir)
        self._counter.no_padding()
        self._counter.no_truncation()

    # -- Encoder protocol ---------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows, _, pooled, _ in self._batches(texts, with_tokens=False):
            out[rows] = pooled
        return normalize_rows(out)

    def encode_with_sentences(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                              ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Chunk vectors plus one vector per sentence span, from the same forward pass."""
        if len(texts) != len(spans):
            raise ValueError("one list of spans per text is required")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        chunk_vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        sentence_vectors: list[np.ndarray | None] = [None] * len(texts)
        for rows, encodings, pooled, tokens in self._batches(texts, with_tokens=True):
            pooled = normalize_rows(pooled)
            for k, (row, encoding) in enumerate(zip(rows, encodings, strict=True)):
                n = len(encoding.ids)
                chunk_vectors[row] = pooled[k]
                sentence_vectors[row] = pool_spans(tokens[k, :n], np.asarray(encoding.offsets, dtype=np.int64),
                                                   spans[row], pooled[k])
        return chunk_vectors, sentence_vectors  # type: ignore[return-value]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encodings = self._counter.encode_batch(self._prepare(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    # -- internals ------------------------------------------------------------------------------------

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self.lowercase else list(texts)

    def _single_thread(self):
        with self._runs_lock:
            if self._small_session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.intra_op_num_threads = options.inter_op_num_threads = 1
                self._small_session = ort.InferenceSession(str(self.model_path), options,
                                                           providers=["CPUExecutionProvider"])
            return self._small_session

    def _batches(self, texts: Sequence[str], with_tokens: bool):
        """(row indices, encodings, pooled vectors, token embeddings or None) per batch of similar lengths."""
        encodings = self._tokenizer.encode_batch(self._prepare(texts), add_special_tokens=True)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        outputs = ["sentence_embedding", "token_embeddings"] if with_tokens else ["sentence_embedding"]
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = [encodings[i] for i in rows]
            width = max(len(e.ids) for e in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for k, encoding in enumerate(batch):
                ids[k, :len(encoding.ids)] = encoding.ids
                mask[k, :len(encoding.ids)] = 1
            with self._runs_lock:
                crowded = self._runs > 0
                self._runs += 1
            session = self._single_thread() if crowded and ids.size <= SMALL_RUN_TOKENS else self.session
            try:
                result = session.run(outputs, {"input_ids": ids, "attention_mask": mask})
            finally:
                with self._runs_lock:
                    self._runs -= 1
            yield rows, batch, result[0], (result[1] if with_tokens else None)


# -- export ------------------------------------------------------------------------------------------


def weights_file(model_dir: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_dir / name).is_file():
            return model_dir / name
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {model_dir}")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_dir(model_dir: Path, model_name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Cache folder keyed by model name, weights hash and export recipe version."""
    if cache_dir is None:
        from index.demo import cache_home

        cache_dir = cache_home() / "onnx"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_name)
    key = file_hash(weights_file(model_dir))[:16]
    return Path(cache_dir) / f"{safe}-{key}-v{EXPORT_VERSION}"


def ensure_exported(model_dir: Path, folder: Path, quantize: bool) -> tuple[Path, bool]:
    """(path of the .onnx file to load, whether anything was exported or quantized now)."""
    target = folder / (INT8_FILE if quantize else FP32_FILE)
    if target.is_file():
        return target, False
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    try:
        meta = _read_json(folder / META_FILE) if (folder / META_FILE).is_file() else {}
        fp32 = folder / FP32_FILE
        if not fp32.is_file():
            raw = work / "raw.onnx"
            _export_torch(model_dir, raw)
            fused = work / FP32_FILE
            meta["fusion"] = _fuse(raw, fused, model_dir)
            meta.update(_versions(), weights=weights_file(model_dir).name, opset=OPSET)
            os.replace(fused, fp32)  # atomic: a concurrent loader sees the whole file or none
        if quantize:
            quantized = work / INT8_FILE
            _quantize(fp32, quantized)
            meta["int8"] = {"per_channel": True, "weight_type": "QInt8", "method": "quantize_dynamic"}
            os.replace(quantized, target)
        (work / META_FILE).write_text(json.dumps(meta, indent=2))
        os.replace(work / META_FILE, folder / META_FILE)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target, True


def _export_torch(model_dir: Path, out: Path) -> None:
    """The transformer (token embeddings) plus mean pooling, as one graph with dynamic batch and length."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    # Eager attention exports as plain MatMul/Softmax, the pattern onnxruntime's optimizer fuses.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            tokens = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return tokens, pooled

    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
               "token_embeddings": {0: "batch", 1: "sequence"}, "sentence_embedding": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # dynamo=False: the TorchScript exporter needs no onnxscript and handles BERT fine.
        torch.onnx.export(Pooled(model), example, str(out), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["token_embeddings", "sentence_embedding"], dynamic_axes=dynamic)


def _fuse(raw: Path, out: Path, model_dir: Path) -> dict:
    """Attention/SkipLayerNorm/BiasGelu fusion by onnxruntime's transformer optimizer; the raw graph if
    fusion fails, so an unfamiliar architecture still exports. Measured on 2 shared cores at batch 1: no
    clear gain over the session's own ORT_ENABLE_ALL fusions (CPU per chunk within noise), same accuracy."""
    config = _read_json(model_dir / "config.json")
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(str(raw), model_type="bert", num_heads=int(config["num_attention_heads"]),
                                   hidden_size=int(config["hidden_size"]), opt_level=0)
        stats = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
        optimized.save_model_to_file(str(out))
        return stats
    except Exception as error:  # noqa: BLE001 - keep the unfused export
        shutil.copyfile(raw, out)
        return {"error": f"{type(error).__name__}: {error}"}


def _quantize(src: Path, out: Path) -> None:
    """Dynamic int8, per-channel weights (per-tensor drifted to cosine ~0.94 against fp32)."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "please run pre-processing" warning: not needed for dynamic quantization
    try:
        quantize_dynamic(str(src), str(out), per_channel=True, weight_type=QuantType.QInt8,
                         # fused contrib ops defeat shape inference; their outputs are float
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def _versions() -> dict:
    import onnxruntime
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "onnxruntime": onnxruntime.__version__}


def _check_pooling(model_dir: Path) -> None:
    """Only mean pooling is built into the graph; refuse a model configured otherwise."""
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return
    for module in _read_json(modules):
        if module.get("type", "").endswith("Pooling"):
            config_path = model_dir / module.get("path", "") / "config.json"
            config = _read_json(config_path) if config_path.is_file() else {}
            modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
            if modes and modes != ["pooling_mode_mean_tokens"]:
                raise ValueError(f"OnnxEncoder supports mean pooling only; {model_dir} uses {modes}")


def _load_tokenizer(model_dir: Path):
    """The model's fast tokenizer (tokenizer.json), the same one sentence-transformers uses."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    from transformers import AutoTokenizer

    return Tokenizer.from_str(AutoTokenizer.from_pretrained(str(model_dir)).backend_tokenizer.to_str())


def _read_json(path: Path):
    return json.loads(Path(path).read_text())
