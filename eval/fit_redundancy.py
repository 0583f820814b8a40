"""Fit the redundancy pair screen on the dev splits: which close pairs of answer sentences are worth
embedding afresh to learn whether they state one fact.

    python -m eval.fit_redundancy --bbc-index IDX/bbc --rtqa-index IDX/rtqa [--dry-run]

Asks every dev question (BBC written dev halves and near misses, RealTime QA dev weeks), records each
pair the answer stage compares (pooled cosine >= repeat_cosine, or repeat_cosine_other_article for two
articles' sentences, and at least repeat_min_shared_terms shared content words), embeds both sentences
alone (a repeat: fresh cosine >= repeat_cosine) and fits, on the pairs of one article's sentences (two
articles' pairs are few and always judged afresh), a logistic regression over summarize.REPEAT_FEATURES.
Its `skip_below` is the highest out-of-fold probability that misses at most MAX_MISSED_SHARE of the
dev repeats: pairs below it are taken as two facts with no fresh embedding (each costs 3-4 ms).
Writes assistant/models/repeat_model.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DATA = Path(__file__).resolve().parent / "data"
MAX_MISSED_SHARE = 0.0  # of the dev repeats: a miss shows one fact twice, which no answer should
FOLDS = 10
C_GRID = (0.1, 1.0, 10.0)


def dev_records(path: Path) -> list[dict]:
    from eval.splits import assign_splits

    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits = assign_splits(records)
    return [r for r in records if splits[r["id"]] == "dev"]


def compared_pairs(index: Path, records: list[dict]) -> tuple[list[np.ndarray], list[float]]:
    """(REPEAT_FEATURES row, fresh cosine) of every pair the answers would consider embedding afresh."""
    import assistant.summarize as summarize
    from assistant.answer_model import Logistic, RepeatModel
    from assistant.engine import AskSettings, Assistant
    from assistant.options import AskOptions
    from index.embed import encoder_for_index, load_encoder

    n = len(summarize.REPEAT_FEATURES)
    embed_every_pair = RepeatModel(Logistic(summarize.REPEAT_FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 0.0),
                                   skip_below=0.0)
    encoder = encoder_for_index(index) or load_encoder()
    assistant = Assistant.load(index, encoder=encoder, settings=AskSettings(repeat_model=embed_every_pair))
    rows: list[np.ndarray] = []
    fresh: list[float] = []

    def recording(candidates, pooled, settings, embed, screen=None):
        def repeats(chosen, i):
            close = summarize.worth_embedding(candidates, pooled, settings, chosen, i)
            if not close:
                return False
            vectors = np.asarray(embed([candidates[k].text for k in [*close, i]]), dtype=np.float32)
            cosines = vectors[:-1] @ vectors[-1]
            for j, cosine in zip(close, cosines, strict=True):
                if candidates[j].article_id != candidates[i].article_id:
                    continue  # always judged afresh: the screen is for one article's pairs
                rows.append(summarize.pair_features(candidates[j], candidates[i], float(pooled[j] @ pooled[i])))
                fresh.append(float(cosine))
            return float(cosines.max()) >= settings.repeat_cosine
        return repeats

    original, summarize._redundancy_check = summarize._redundancy_check, recording
    try:
        for record in records:
            as_of = record.get("question_date")
            assistant.ask(record["question"], options=AskOptions(as_of=as_of) if as_of else None)
    finally:
        summarize._redundancy_check = original
    return rows, fresh


def fit(x: np.ndarray, y: np.ndarray):
    """The C with the most pairs skipped out of fold at the allowed misses, refit on all dev pairs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    allowed = int(MAX_MISSED_SHARE * y.sum())
    best = None
    for c in C_GRID:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
        p = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
        skip_below = float(np.sort(p[y])[allowed])
        skipped = float((p < skip_below).mean())
        print(f"C {c:>5}: out of fold, {skipped:.3f} of pairs skipped, {int((p[y] < skip_below).sum())} repeats missed")
        if best is None or skipped > best[2]:
            best = (c, skip_below, skipped)
    c, skip_below, skipped = best
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(x, y)
    return model, skip_below, skipped, c


def main(argv: list[str] | None = None) -> None:
    from assistant.answer_model import REPEAT_MODEL_PATH, Logistic, RepeatModel
    from assistant.summarize import REPEAT_FEATURES, SummarySettings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bbc-index", type=Path, required=True)
    parser.add_argument("--rtqa-index", type=Path, required=True)
    parser.add_argument("--dry-run", action="store_true", help="print the fit, do not write the model file")
    args = parser.parse_args(argv)
    bbc = [r for name in ("bbc_questions.jsonl", "bbc_questions_2.jsonl", "bbc_near_miss.jsonl")
           for r in dev_records(DATA / name)]
    rtqa = dev_records(SHARED / "realtimeqa_news" / "questions.jsonl")
    rows_b, fresh_b = compared_pairs(args.bbc_index, bbc)
    rows_r, fresh_r = compared_pairs(args.rtqa_index, rtqa)
    x = np.array(rows_b + rows_r)
    y = np.array(fresh_b + fresh_r) >= SummarySettings().repeat_cosine
    print(f"dev questions: {len(bbc)} BBC + {len(rtqa)} RealTime QA; pairs embedded afresh today {len(x)}, "
          f"repeats {int(y.sum())}")
    model, skip_below, skipped, c = fit(x, y)
    scaler, logistic = model.steps[0][1], model.steps[1][1]
    pair = Logistic(REPEAT_FEATURES, scaler.mean_, scaler.scale_, logistic.coef_[0], float(logistic.intercept_[0]))
    fitted_on = (f"dev splits (eval/data/README.md): {len(bbc)} BBC written dev and near-miss questions, "
                 f"{len(rtqa)} RealTime QA dev-week questions; {len(x)} pairs, {int(y.sum())} repeats; C {c}; "
                 f"out of fold {skipped:.3f} of pairs skipped at {MAX_MISSED_SHARE:.0%} repeats missed")
    print(fitted_on, f"; skip_below {skip_below:.4f}")
    if not args.dry_run:
        RepeatModel(pair, skip_below, fitted_on).save(REPEAT_MODEL_PATH)
        print(f"wrote {REPEAT_MODEL_PATH}")


if __name__ == "__main__":
    main()
