"""Archive-rarity question features for the support model, tried and not kept (issue 11, session 6).

    python -m eval.abstention_features --rtqa-index DIR --bbc-index DIR [--demo-index DIR]

The support model's question features measure coverage against the candidate pool (pool IDF), which
holds the topic's words by construction. This asks whether the archive's own rarity of the question's
words (BM25 document frequency of each stemmed term over the index's chunks) tells "the corpus has the
topic, not the fact" apart better: each candidate feature is added alone to evidence.QUESTION_FEATURES
and the support model is fit out of fold on the same dev samples as eval/fit_answers.py (its cache), with
its C grid and its threshold (<= 5% false abstention). Prints abstention recall, F1 and false abstention,
overall and per source, and each feature's univariate AUC. Dev only; reads the embedded store's keyword
index directly (the experiment needs no Snapshot method).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval import fit_answers as fa

Weights = dict[str, float]


def archive_weights(snapshot, terms: frozenset[str]) -> Weights:
    """log(1 + chunks / (1 + chunks holding the term)) for each stemmed question term."""
    searcher, size = snapshot.keywords.searcher, snapshot.size
    return {t: math.log(1.0 + size / (1.0 + searcher.doc_freq("text", t))) for t in terms}


def weighted_share(wanted: frozenset[str], have: set[str] | frozenset[str], w: Weights) -> float:
    total = sum(w.get(t, 0.0) for t in wanted)
    return sum(w.get(t, 0.0) for t in wanted & have) / total if total else 0.0


def _rows_of(sample, probabilities: np.ndarray, w: Weights) -> dict[str, float]:
    """The candidate features of one question (0 where it has no candidates)."""
    from assistant.evidence import SENTENCE_FEATURES
    from assistant.summarize import terms_of

    ev, asked = sample.evidence, sample.evidence.question
    order = np.argsort(-probabilities, kind="stable")
    best, top3 = order[0], order[:3]
    held = [terms_of(c.text) for c in ev.candidates]
    passages = sample.found.top
    shown = set().union(*(terms_of(p.text) | terms_of(p.title) for p in passages))
    top = terms_of(passages[0].text) | terms_of(passages[0].title)
    rarest = max(asked.terms, key=lambda t: (w.get(t, 0.0), t))
    offers = ev.features[:, SENTENCE_FEATURES.index("offers_kind")] > 0 if asked.kind else np.ones(len(held), bool)
    kind_focus = [weighted_share(asked.focus_terms, h, w) * o for h, o in zip(held, offers, strict=True)]
    return {
        "archive_best": weighted_share(asked.terms, held[best], w),
        "archive_best_focus": weighted_share(asked.focus_terms, held[best], w),
        "archive_top3": max(weighted_share(asked.terms, held[i], w) for i in top3),
        "archive_pool_max": max(weighted_share(asked.terms, h, w) for h in held),
        "archive_shown": weighted_share(asked.terms, shown, w),
        "archive_focus_shown": weighted_share(asked.focus_terms, shown, w),
        "archive_top_passage": weighted_share(asked.terms, top, w),
        "rarest_in_best": float(rarest in held[best]),
        "rarest_in_top3": float(any(rarest in held[i] for i in top3)),
        "rarest_shown": float(rarest in shown),
        "rarest_weight": max(w.values()),
        "kind_with_focus": max(kind_focus),
        "kind_with_focus_top3": max(kind_focus[i] for i in top3),
        "kind_with_half_focus": float(max(kind_focus) >= 0.5),
    }


def extra_rows(samples, probabilities, weights: list[Weights]) -> tuple[list[str], np.ndarray]:
    rows = [_rows_of(s, p, w) if len(p) and s.evidence.question.terms else None
            for s, p, w in zip(samples, probabilities, weights, strict=True)]
    names = list(next(r for r in rows if r))
    return names, np.array([[r[n] for n in names] if r else [0.0] * len(names) for r in rows])


def out_of_fold(rows: np.ndarray, answerable: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Abstentions at fit_answers' threshold, with its C chosen by abstention recall."""
    best = None
    names = [str(i) for i in range(rows.shape[1])]
    for c in (0.01, 0.03, 0.1, 0.3, 1.0):
        predicted = np.zeros(len(rows))
        for fold in range(fa.FOLDS):
            train = folds != fold
            predicted[~train] = fa.fit_logistic(rows[train], answerable[train], names, c).predict(rows[~train])
        abstains = predicted < fa.choose_threshold(predicted, answerable)
        if best is None or abstains[~answerable].mean() > best[~answerable].mean():
            best = abstains
    return best


def summary(abstains: np.ndarray, answerable: np.ndarray, sources: np.ndarray) -> str:
    recall = abstains[~answerable].mean()
    precision = (abstains & ~answerable).sum() / max(abstains.sum(), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per = []
    for source in sorted(set(sources)):
        part = sources == source
        false = abstains[part & answerable].mean() if (part & answerable).any() else 0.0
        caught = abstains[part & ~answerable].mean() if (part & ~answerable).any() else 0.0
        per.append(f"{source} {false:.2f}/{caught:.2f}")
    return (f"recall {recall:.3f} F1 {f1:.3f} false abstention {abstains[answerable].mean():.3f} | "
            + " ".join(per))


def top1(samples, probabilities) -> float:
    """How often the likeliest candidate is the evidence sentence (fit_answers' choice of C)."""
    return float(np.mean([s.labels[np.argmax(p)] for s, p in zip(samples, probabilities, strict=True)
                          if s.evidence_texts and len(p)]))


def corpus_of(conversation_corpus: dict[str, str]) -> Callable:
    def corpus(sample) -> str:
        if sample.source in ("rtqa", "demo"):
            return sample.source
        if sample.source == "conversations":
            return conversation_corpus[sample.qid.rsplit("-", 1)[0]]
        return "bbc"

    return corpus


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtqa-index", type=Path, required=True)
    parser.add_argument("--bbc-index", type=Path, required=True)
    parser.add_argument("--demo-index", type=Path, default=None)
    args = parser.parse_args(argv)
    from sklearn.metrics import roc_auc_score

    import __main__
    from assistant.engine import Assistant, ensure_demo_index
    from assistant.evidence import QUESTION_FEATURES, SENTENCE_FEATURES
    from eval.conversations import load_conversations
    from index.embed import encoder_for_index, load_encoder

    __main__.Sample = fa.Sample  # fit_answers pickles its cache when run as __main__
    samples = fa.gather_all(args)
    encoder = encoder_for_index(args.bbc_index) or load_encoder()
    snapshots = {name: Assistant.load(folder, encoder=encoder).snapshot for name, folder in (
        ("rtqa", args.rtqa_index), ("bbc", args.bbc_index), ("demo", args.demo_index or ensure_demo_index(encoder)))}
    corpus = corpus_of({c.id: c.corpus for c in load_conversations(fa.DATA / "conversations.jsonl", part="dev")})
    weights = [archive_weights(snapshots[corpus(s)], s.evidence.question.terms) for s in samples]
    folds, answerable = fa.folds_of(samples), np.array([s.answerable for s in samples])
    sources = np.array([s.source for s in samples])
    probabilities = max((fa.sentence_probabilities(samples, SENTENCE_FEATURES, folds, c)
                         for c in (0.03, 0.1, 0.3, 1.0)), key=lambda p: top1(samples, p))
    base = fa.question_rows(samples, probabilities)
    names, extra = extra_rows(samples, probabilities, weights)
    print(f"{'support features':>32}: {summary(out_of_fold(base, answerable, folds), answerable, sources)}")
    for j, name in enumerate(names):
        rows = np.hstack([base, extra[:, [j]]])
        print(f"{'+ ' + name:>32}: {summary(out_of_fold(rows, answerable, folds), answerable, sources)}")
    print(f"{'+ all':>32}: {summary(out_of_fold(np.hstack([base, extra]), answerable, folds), answerable, sources)}")
    print("univariate AUC (answerable vs not; 0.5 = no signal), strongest shipped features first:")
    for name, column in sorted(zip([*QUESTION_FEATURES, *names], np.hstack([base, extra]).T, strict=True),
                               key=lambda x: -abs(roc_auc_score(answerable, x[1]) - 0.5))[:12]:
        auc = roc_auc_score(answerable, column)
        print(f"  {name:>24} {max(auc, 1 - auc):.3f}")


if __name__ == "__main__":
    main()
