"""Calibrate the abstention threshold on data (not a test).

    python -m eval.calibrate --rtqa-index DIR [--demo-index DIR] [--max-false-abstention 0.05]

Answerable questions: the RealTime QA dev split (the first half of its weeks; the second half is kept
for testing) on the RealTime QA index, and the demo corpus's answerable questions on the demo index.
Unanswerable questions: the demo corpus's unanswerable ones, plus each corpus's questions asked of the
other corpus (RealTime QA's 2022 news quiz is not about 2018-2022 facial recognition, and back).
The threshold chosen is the highest one whose false abstention on answerable questions stays within the
limit; it prints the rates at that threshold and a small table around it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DEMO_QUESTIONS = Path(__file__).parent / "data" / "demo_questions.jsonl"


def rtqa_split(questions, part: str):
    """Dev = first half of the weeks, test = second half (questions come in week order)."""
    weeks = sorted({q.id.split("_")[0] for q in questions})
    dev_weeks = set(weeks[: len(weeks) // 2])
    return [q for q in questions if (q.id.split("_")[0] in dev_weeks) == (part == "dev")]


def confidences(assistant, questions, as_of: bool = True) -> np.ndarray:
    out = []
    for q in questions:
        out.append(assistant.ask(q.text, as_of=q.date if as_of else None).confidence)
    return np.array(out)


def choose_threshold(answerable: np.ndarray, unanswerable: np.ndarray, max_false: float) -> float:
    """Highest threshold with false abstention ≤ max_false (abstain when confidence < threshold)."""
    candidates = np.unique(np.concatenate([answerable, unanswerable]))
    best = 0.0
    for t in candidates:
        if np.mean(answerable < t) <= max_false:
            best = max(best, float(t))
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtqa-index", type=Path, required=True)
    parser.add_argument("--demo-index", type=Path, default=None)
    parser.add_argument("--max-false-abstention", type=float, default=0.05)
    args = parser.parse_args(argv)

    from assistant.engine import Assistant, ensure_demo_index
    from eval.datasets import load_questions
    from index.embed import encoder_for_index, load_encoder

    encoder = encoder_for_index(args.rtqa_index) or load_encoder()  # the model the index was built with
    rtqa = Assistant.load(args.rtqa_index, encoder=encoder)
    demo = Assistant.load(args.demo_index or ensure_demo_index(encoder), encoder=encoder)
    rtqa_dev = [q for q in rtqa_split(load_questions(SHARED / "realtimeqa_news" / "questions.jsonl").questions,
                                      "dev") if not q.unanswerable]
    demo_qs = load_questions(DEMO_QUESTIONS).questions
    demo_answerable = [q for q in demo_qs if not q.unanswerable]
    demo_unanswerable = [q for q in demo_qs if q.unanswerable]

    answerable = np.concatenate([confidences(rtqa, rtqa_dev), confidences(demo, demo_answerable)])
    unanswerable = np.concatenate([confidences(demo, demo_unanswerable),
                                   confidences(demo, rtqa_dev, as_of=False),
                                   confidences(rtqa, demo_answerable, as_of=False)])
    threshold = choose_threshold(answerable, unanswerable, args.max_false_abstention)
    print(f"answerable: {len(answerable)} (RTQA dev {len(rtqa_dev)}, demo {len(demo_answerable)}); "
          f"unanswerable: {len(unanswerable)}")
    print(f"{'threshold':>10}{'false abstention':>18}{'abstention recall':>19}")
    for t in sorted({round(threshold + d, 3) for d in (-0.1, -0.05, -0.02, 0.0, 0.02, 0.05)}):
        print(f"{t:>10.3f}{np.mean(answerable < t):>18.3f}{np.mean(unanswerable < t):>19.3f}")
    print(f"chosen threshold: {threshold:.3f}")


if __name__ == "__main__":
    main()
