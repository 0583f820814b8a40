"""Choose SummarySettings.repeat_min_shared_terms on the dev splits: how many content words a pair of
answer sentences that are close on pooled vectors must share before it is worth embedding both afresh.

    python -m eval.fit_redundancy --bbc-index IDX/bbc --rtqa-index IDX/rtqa

Asks every dev question (BBC written dev halves and near misses, RealTime QA dev weeks), records each
pair the answer stage compares (pooled cosine >= repeat_cosine), embeds both sentences alone, and prints,
per threshold, the share of pairs that would skip the fresh embedding and the true repeats (fresh cosine
>= repeat_cosine) that would be missed. The largest threshold that misses none is the one to keep."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DATA = Path(__file__).resolve().parent / "data"


def dev_records(path: Path) -> list[dict]:
    from eval.splits import assign_splits

    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits = assign_splits(records)
    return [r for r in records if splits[r["id"]] == "dev"]


def compared_pairs(index: Path, records: list[dict]) -> list[tuple[float, int]]:
    """(fresh cosine, shared content terms) of every close pooled pair the answers compared."""
    import assistant.summarize as summarize
    from assistant.engine import Assistant
    from assistant.options import AskOptions
    from index.embed import encoder_for_index, load_encoder

    encoder = encoder_for_index(index) or load_encoder()
    assistant = Assistant.load(index, encoder=encoder)
    pairs: list[tuple[float, int]] = []

    def recording(candidates, pooled, settings, embed):
        def repeats(chosen, i):
            close = [j for j in chosen if float(pooled[j] @ pooled[i]) >= settings.repeat_cosine]
            if not close:
                return False
            vectors = np.asarray(embed([candidates[k].text for k in [*close, i]]), dtype=np.float32)
            fresh = vectors[:-1] @ vectors[-1]
            mine = summarize.content_terms(candidates[i].text)
            for j, cosine in zip(close, fresh, strict=True):
                pairs.append((float(cosine), len(mine & summarize.content_terms(candidates[j].text))))
            return float(fresh.max()) >= settings.repeat_cosine
        return repeats

    original, summarize._redundancy_check = summarize._redundancy_check, recording
    try:
        for record in records:
            as_of = record.get("question_date")
            assistant.ask(record["question"], options=AskOptions(as_of=as_of) if as_of else None)
    finally:
        summarize._redundancy_check = original
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc-index", type=Path, required=True)
    parser.add_argument("--rtqa-index", type=Path, required=True)
    parser.add_argument("--repeat-cosine", type=float, default=0.7)
    args = parser.parse_args(argv)
    bbc = [r for name in ("bbc_questions.jsonl", "bbc_questions_2.jsonl", "bbc_near_miss.jsonl")
           for r in dev_records(DATA / name)]
    rtqa = dev_records(SHARED / "realtimeqa_news" / "questions.jsonl")
    pairs = compared_pairs(args.bbc_index, bbc) + compared_pairs(args.rtqa_index, rtqa)
    repeats = [shared for cosine, shared in pairs if cosine >= args.repeat_cosine]
    print(f"dev questions: {len(bbc)} BBC + {len(rtqa)} RealTime QA; close pooled pairs {len(pairs)}, "
          f"repeats on fresh embeddings {len(repeats)}")
    print(f"{'min shared terms':>17}{'pairs skipped':>15}{'repeats missed':>16}")
    for threshold in range(1, 6):
        skipped = sum(shared < threshold for _, shared in pairs) / max(1, len(pairs))
        missed = sum(shared < threshold for shared in repeats)
        print(f"{threshold:>17}{skipped:>15.3f}{missed:>16}")


if __name__ == "__main__":
    main()
