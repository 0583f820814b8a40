"""Fit the answer models (assistant/models/answer_model.json) on dev splits only (not a test).

    python -m eval.fit_answers --rtqa-index DIR --bbc-index DIR [--demo-index DIR] [--out FILE]

Data, all from the declared dev splits (eval/data/README.md):
- answerable: RealTime QA dev weeks (its index, as of each question's date), the dev halves of the two
  written BBC sets (the BBC index), the demo corpus's dev questions (the demo index), and every turn of
  the dev conversations, asked with the conversation so far;
- unanswerable: the dev half of the BBC near misses, the demo dev unanswerable questions, and every
  dev answerable question asked again with its gold articles and their near-duplicates filtered out
  (leave-gold-out: the corpus has the topic, not the fact).
Models: the sentence model (is this candidate the evidence sentence?) learns from the answerable
questions whose evidence sentence is known; the support model (do the articles answer at all?) from
all of them, on out-of-fold sentence probabilities so it sees them as they are on unseen questions.
The support threshold is the highest with <= 5% false abstention on out-of-fold dev predictions; the
floors for further sentences maximise evidence-in-answer + answer-in-answer + citation precision on dev.
Collected evidence is cached under runs/fit-cache (delete it after changing the engine).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
MAX_FALSE_ABSTENTION = 0.05
FOLDS = 5
SEED = 7


@dataclass
class Sample:
    """One question as the answer stage saw it, with what is known to be right."""

    source: str
    qid: str
    answerable: bool
    gold: set[str]
    evidence_texts: list[str]
    answer: str | None
    found: object  # engine.Found
    evidence: object  # evidence.Evidence
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per candidate: is the evidence sentence


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[“”\"'‘’]", "", text)).strip().lower()


def is_evidence(sentence: str, evidence: list[str]) -> bool:
    """The candidate is the evidence sentence, or holds it, or is most of it (sentence splits differ)."""
    s = normalize(sentence)
    return any(e and (e in s or (s in e and len(s) >= 0.5 * len(e))) for e in map(normalize, evidence))


def collect(assistant, dataset, source: str, leave_gold_out: bool) -> list[Sample]:
    from assistant.options import AskOptions
    from index.filters import Filters

    groups = assistant.near_duplicates()
    out = []
    for q in dataset.questions:
        gold = {a for a, grade in dataset.qrels.get(q.id, {}).items() if grade > 0}
        asks = [(q.unanswerable is False and bool(gold), ())]
        if leave_gold_out and gold:
            leaders = {groups.get(a, a) for a in gold}
            asks.append((False, tuple(sorted(gold | {a for a, g in groups.items() if g in leaders}))))
        for answerable, exclude in asks:
            options = AskOptions(as_of=q.date, filters=Filters(exclude_article_ids=exclude))
            found, evidence = assistant.evidence(q.text, options=options)
            texts = [e.text for e in q.evidence if e.text] if answerable else []
            labels = np.array([is_evidence(c.text, texts) for c in evidence.candidates], dtype=float)
            out.append(Sample(source, q.id + ("#left-out" if exclude else ""), answerable, gold, texts,
                              q.answer if answerable else None, found, evidence, labels))
    print(f"{source}: {len(out)} samples ({sum(s.answerable for s in out)} answerable)", file=sys.stderr)
    return out


def collect_conversations(assistants: dict, part: str) -> list[Sample]:
    """Every turn of the written conversations, asked with the conversation so far as history (follow-ups
    such as "What did she find?" are open questions the single-question sets hold few of)."""
    from assistant.options import AskOptions
    from eval.conversations import load_conversations

    out = []
    for conversation in load_conversations(DATA / "conversations.jsonl", part=part):
        assistant, history = assistants[conversation.corpus], []
        for number, turn in enumerate(conversation.turns):
            options = AskOptions(as_of=turn.date)
            found, evidence = assistant.evidence(turn.question, history, options)
            texts = [text for _, text in turn.evidence if text]
            labels = np.array([is_evidence(c.text, texts) for c in evidence.candidates], dtype=float)
            out.append(Sample("conversations", f"{conversation.id}-{number}", True, {a for a, _ in turn.evidence},
                              texts, turn.answer, found, evidence, labels))
            history.append(assistant.ask(turn.question, history, options))
    print(f"conversations: {len(out)} samples (all answerable)", file=sys.stderr)
    return out


def gather_all(args, part: str = "dev") -> list[Sample]:
    from assistant.engine import Assistant, ensure_demo_index
    from eval.datasets import load_questions
    from index.embed import encoder_for_index, load_encoder

    key = hashlib.sha1(f"{args.rtqa_index}|{args.bbc_index}|{args.demo_index}|{part}".encode()).hexdigest()[:10]
    cache = Path("runs") / "fit-cache" / f"samples-{key}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    encoder = encoder_for_index(args.bbc_index) or load_encoder()
    bbc = Assistant.load(args.bbc_index, encoder=encoder)
    demo = Assistant.load(args.demo_index or ensure_demo_index(encoder), encoder=encoder)
    samples: list[Sample] = []
    if args.rtqa_index:
        rtqa = Assistant.load(args.rtqa_index, encoder=encoder)
        samples += collect(rtqa, load_questions(SHARED / "realtimeqa_news" / "questions.jsonl", part=part),
                           "rtqa", True)
    for name in ("bbc_questions", "bbc_questions_2"):
        samples += collect(bbc, load_questions(DATA / f"{name}.jsonl", part=part), name, True)
    samples += collect(bbc, load_questions(DATA / "bbc_near_miss.jsonl", part=part), "bbc_near_miss", False)
    samples += collect(demo, load_questions(DATA / "demo_questions.jsonl", part=part), "demo", True)
    samples += collect_conversations({"bbc": bbc, "demo": demo}, part)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(samples))
    return samples


def fit_logistic(rows: np.ndarray, labels: np.ndarray, names, c: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from assistant.answer_model import Logistic

    scaler = StandardScaler().fit(rows)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=2000).fit((rows - scaler.mean_) / scale, labels)
    return Logistic(tuple(names), scaler.mean_.copy(), scale, model.coef_[0].copy(), float(model.intercept_[0]))


def folds_of(samples: list[Sample]) -> np.ndarray:
    """A fold per question (a left-out copy goes with its original), so no question is scored by a
    model that saw it."""
    rng = np.random.default_rng(SEED)
    base = sorted({s.qid.split("#")[0] for s in samples})
    fold = dict(zip(base, rng.permutation(len(base)) % FOLDS, strict=True))
    return np.array([fold[s.qid.split("#")[0]] for s in samples])


def sentence_training(samples) -> list[Sample]:
    """Questions whose evidence sentence is known, and the unanswerable ones: none of their candidates
    is evidence, which teaches the model that a sentence about the right topic is not enough."""
    return [s for s in samples if len(s.labels) and (s.evidence_texts or not s.answerable)]


def sentence_probabilities(samples, names, fold_ids, c: float) -> list[np.ndarray]:
    """Out-of-fold P(evidence) for every sample's candidates."""
    out: list[np.ndarray] = [np.zeros(0)] * len(samples)
    for fold in range(FOLDS):
        train = sentence_training([s for s, f in zip(samples, fold_ids, strict=True) if f != fold])
        model = fit_logistic(np.vstack([s.evidence.features for s in train]),
                             np.concatenate([s.labels for s in train]), names, c)
        for i, (s, f) in enumerate(zip(samples, fold_ids, strict=True)):
            if f == fold and len(s.evidence.candidates):
                out[i] = model.predict(s.evidence.features)
    return out


def question_rows(samples, probabilities) -> np.ndarray:
    from assistant.evidence import QUESTION_FEATURES, question_row

    return np.vstack([question_row(s.evidence, p, s.found.top) if len(p) else np.zeros(len(QUESTION_FEATURES))
                      for s, p in zip(samples, probabilities, strict=True)])


def choose_threshold(support: np.ndarray, answerable: np.ndarray) -> float:
    """Highest threshold with false abstention (answerable below it) within the limit."""
    scores = np.sort(support[answerable])
    allowed = int(np.floor(MAX_FALSE_ABSTENTION * len(scores)))
    return float(scores[allowed]) if len(scores) else 0.5


def answer_quality(samples, probabilities, min_relative: float, min_probability: float,
                   min_relative_other: float, embed=None) -> dict[str, float]:
    """Evidence in answer, answer string in answer and citation precision on answerable dev samples, as
    the engine would choose with these floors (3 sentences, default budgets)."""
    from assistant.summarize import SummarySettings, choose

    evidence_hits, answer_hits, precision, sizes = [], [], [], []
    for s, p in zip(samples, probabilities, strict=True):
        if not s.answerable or not len(p):
            continue
        chosen = choose(s.evidence.candidates, p, SummarySettings(), min_relative=min_relative,
                        min_probability=min_probability, min_relative_other=min_relative_other,
                        embed=embed and _cached(embed))
        text = normalize(" ".join(c.candidate.text for c in chosen))
        if s.evidence_texts:
            evidence_hits.append(any(normalize(e) in text for e in s.evidence_texts))
        if s.answer:
            answer_hits.append(normalize(s.answer) in text)
        cited = {c.candidate.article_id for c in chosen} | {o.article_id for c in chosen for o in c.also}
        precision.append(len(cited & s.gold) / len(cited) if cited else 0.0)
        sizes.append(len(chosen))
    return {"evidence_in_answer": float(np.mean(evidence_hits)), "answer_in_answer": float(np.mean(answer_hits)),
            "citation_precision": float(np.mean(precision)), "sentences": float(np.mean(sizes))}


_FRESH: dict[str, np.ndarray] = {}


def _cached(embed):
    """The encoder, remembering sentences already embedded (the floor grid asks for the same ones)."""
    def cached(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in _FRESH]
        if missing:
            _FRESH.update(zip(missing, embed(missing), strict=True))
        return np.stack([_FRESH[t] for t in texts])

    return cached


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtqa-index", type=Path, default=None, help="RealTime QA index (left out if not given)")
    parser.add_argument("--bbc-index", type=Path, required=True)
    parser.add_argument("--demo-index", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="model file (default: the shipped one)")
    parser.add_argument("--score-test", action="store_true",
                        help="fit nothing: score the shipped model against the session-2 hand weights on the "
                             "test splits (how often the best candidate is the evidence sentence)")
    args = parser.parse_args(argv)
    if args.score_test:
        return score_test(args)

    from assistant.answer_model import MODEL_PATH, AnswerModel
    from assistant.evidence import QUESTION_FEATURES, SENTENCE_FEATURES

    samples = gather_all(args)
    fold_ids = folds_of(samples)
    answerable = np.array([s.answerable for s in samples])
    # Regularisation chosen on dev, out of fold: the sentence model by how often its best candidate is
    # the evidence, the support model by abstention recall at <= 5% false abstention.
    best_c, oof = None, None
    for c in (0.03, 0.1, 0.3, 1.0):
        probabilities = sentence_probabilities(samples, SENTENCE_FEATURES, fold_ids, c)
        top1 = np.mean([s.labels[np.argmax(p)] for s, p in zip(samples, probabilities, strict=True)
                        if s.evidence_texts and len(p)])
        print(f"sentence model C={c}: best candidate is the evidence for {top1:.3f} of dev questions")
        if best_c is None or top1 > best_c[1]:
            best_c, oof = (c, top1), probabilities
    sentence = fit_logistic(np.vstack([s.evidence.features for s in sentence_training(samples)]),
                            np.concatenate([s.labels for s in sentence_training(samples)]), SENTENCE_FEATURES,
                            best_c[0])

    rows = question_rows(samples, oof)
    support_c, support_oof, threshold = None, None, 0.5
    for c in (0.01, 0.03, 0.1, 0.3, 1.0):
        predicted = np.zeros(len(samples))
        for fold in range(FOLDS):
            train = fold_ids != fold
            predicted[~train] = fit_logistic(rows[train], answerable[train], QUESTION_FEATURES, c).predict(
                rows[~train])
        cut = choose_threshold(predicted, answerable)
        recall = float((predicted < cut)[~answerable].mean())
        print(f"support model C={c}: abstention recall {recall:.3f} at threshold {cut:.3f} (dev, out of fold)")
        if support_c is None or recall > support_c[1]:
            support_c, support_oof, threshold = (c, recall), predicted, cut
    support = fit_logistic(rows, answerable, QUESTION_FEATURES, support_c[0])
    abstains = support_oof < threshold
    print(f"support (out of fold, dev): threshold {threshold:.3f}, false abstention "
          f"{abstains[answerable].mean():.3f}, abstention recall {abstains[~answerable].mean():.3f}")
    for source in sorted({s.source for s in samples}):
        part = np.array([s.source == source for s in samples])
        false = abstains[part & answerable].mean() if (part & answerable).any() else 0.0
        recall = abstains[part & ~answerable].mean() if (part & ~answerable).any() else 0.0
        print(f"  {source:>16}: false abstention {false:.3f}  abstention recall {recall:.3f}")

    grid = [(r, m, o) for r in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5) for m in (0.0, 0.02, 0.05)
            for o in (0.1, 0.2, 0.3, 0.5, 0.7, 1.01)]
    from index.embed import encoder_for_index

    encoder = encoder_for_index(args.bbc_index)
    scored = {g: answer_quality(samples, oof, *g, embed=encoder.encode) for g in grid}
    best = max(grid, key=lambda g: (scored[g]["evidence_in_answer"] + scored[g]["answer_in_answer"]
                                    + scored[g]["citation_precision"]))
    print(f"floors (dev, out of fold): min_relative {best[0]}, min_probability {best[1]}, "
          f"min_relative_other {best[2]}: {scored[best]}")
    print(f"  one sentence only: {answer_quality(samples, oof, 1.01, 0.0, 1.01, embed=encoder.encode)}")
    model = AnswerModel(sentence, support, threshold, best[0], best[1], best[2], fitted_on=(
        f"dev splits only: RealTime QA dev weeks, BBC written dev halves, BBC near-miss dev, demo dev, "
        f"dev conversations, "
        f"and leave-gold-out copies ({len(samples)} questions, {int(answerable.sum())} answerable); "
        f"C sentence {best_c[0]}, support {support_c[0]}; eval/fit_answers.py"))
    model.save(args.out or MODEL_PATH)
    print(f"wrote {args.out or MODEL_PATH}")
    for name, w in sorted(zip(SENTENCE_FEATURES, sentence.coef, strict=True), key=lambda x: -abs(x[1])):
        print(f"  sentence {name:>22} {w:+.3f}")
    for name, w in sorted(zip(QUESTION_FEATURES, support.coef, strict=True), key=lambda x: -abs(x[1])):
        print(f"  support  {name:>22} {w:+.3f}")


def hand_scores(features: np.ndarray) -> np.ndarray:
    """The session-2 hand weights over the same candidates (for comparison only)."""
    from assistant.evidence import SENTENCE_FEATURES

    c = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    f = features
    return (0.55 * f[:, c["similarity"]] + 0.35 * f[:, c["overlap"]] + 0.10 * f[:, c["passage_rank"]]
            + 0.15 * f[:, c["offers_kind"]] + 0.05 * f[:, c["first_sentence"]] * f[:, c["open_question"]]
            - 10.0 * f[:, c["outside_passage"]])  # session 2 never looked outside the passages


def score_test(args) -> None:
    from assistant.answer_model import load_model

    model = load_model(args.out) if args.out else load_model()
    samples = [s for s in gather_all(args, part="test") if s.evidence_texts and len(s.labels)]
    for source in sorted({s.source for s in samples}) + ["all"]:
        chosen = [s for s in samples if source in ("all", s.source)]
        for name, scorer in (("hand weights", hand_scores), ("fitted model", model.sentence.predict)):
            orders = [np.argsort(-scorer(s.evidence.features), kind="stable") for s in chosen]
            top1 = np.mean([s.labels[o[0]] for s, o in zip(chosen, orders, strict=True)])
            top3 = np.mean([s.labels[o[:3]].max() for s, o in zip(chosen, orders, strict=True)])
            print(f"{source:>16} {name:>13}: best candidate is the evidence {top1:.3f}, in the top 3 {top3:.3f} "
                  f"({len(chosen)} test questions)")


if __name__ == "__main__":
    main()
