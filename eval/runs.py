"""Dataset + configurations → per-question results and metrics, through the real engine."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from assistant.options import AskOptions
from eval.datasets import Dataset, Question
from eval.metrics import aggregate, evaluate_run, evidence_recall_at_k, latency_summary
from index.filters import Filters

EVIDENCE_KS = (1, 5, 10)


@dataclass(frozen=True)
class Config:
    """One column of the comparison: a retrieval mode and the number of passages answered from."""

    mode: str = "hybrid"
    k: int = 5
    time_aware: bool = True  # use the question's date as "as of" and its time words
    per_article: int = 2  # passages one article may hold among the k
    # Each gold question is asked twice: as it is (answerable), and with its gold articles and their
    # near-duplicates filtered out (a realistic near miss, which should abstain).
    leave_gold_out: bool = False

    def options(self, as_of: str | None, exclude: tuple[str, ...] = ()) -> AskOptions:
        return AskOptions(k=self.k, mode=self.mode, as_of=as_of, time_aware=self.time_aware,
                          per_article=self.per_article, filters=Filters(exclude_article_ids=exclude))

    @property
    def name(self) -> str:
        name = self.mode if self.k == 5 else f"{self.mode}-k{self.k}"
        name = name if self.per_article == 2 else f"{name}-per{self.per_article}"
        name = f"{name}-lgo" if self.leave_gold_out else name
        return name if self.time_aware else f"{name}-notime"


@dataclass(frozen=True)
class QuestionResult:
    id: str
    question: str
    config: str
    first_relevant_rank: int | None  # of the first gold article, 1-based, None if not in the top 100
    answer: str
    abstained: bool
    unanswerable: bool
    answer_in_answer: bool | None  # None when the question has no answer string
    evidence_in_answer: bool | None
    missed_evidence: bool | None  # evidence sentence known but in no top-10 passage
    citation_precision: float | None  # cited passages that are gold and hold the evidence sentence
    offsets_ok: bool
    seconds: float
    evidence_recall: dict[int, float] = field(default_factory=dict)  # k -> 1.0 / 0.0, when evidence is known
    ranking: tuple[tuple[str, float], ...] = field(default=(), repr=False)
    via_duplicate: bool = False  # the first gold article was folded into a near-duplicate shown in its place
    repeats_fact: bool | None = None  # two answer sentences say the same (cosine >= REPEAT_COSINE); None: < 2
    left_out: bool = False  # asked with its gold articles filtered out (leave-gold-out)
    cited_gold: float | None = None  # cited articles (every [n], "also" ones too) that are gold


@dataclass(frozen=True)
class ConfigResult:
    config: Config
    metrics: dict[str, float]
    questions: tuple[QuestionResult, ...]


def run_config(assistant, dataset: Dataset, config: Config, limit: int | None = None) -> ConfigResult:
    questions = dataset.questions[:limit] if limit else dataset.questions
    rows = [run_question(assistant, dataset, q, config) for q in questions]
    if config.leave_gold_out:
        rows += [run_left_out(assistant, dataset, q, config) for q in questions if q.id in dataset.qrels]
    return ConfigResult(config, summarize(dataset, rows), tuple(rows))


def run_left_out(assistant, dataset: Dataset, question: Question, config: Config) -> QuestionResult:
    """The question asked without its gold articles and their near-duplicates: it should abstain."""
    gold = {a for a, grade in dataset.qrels[question.id].items() if grade > 0}
    groups = assistant.near_duplicates()
    leaders = {groups.get(a, a) for a in gold}
    exclude = tuple(sorted(gold | {a for a, leader in groups.items() if leader in leaders}))
    answer = assistant.ask(question.text, options=config.options(
        question.date if config.time_aware else None, exclude))
    return QuestionResult(
        id=f"{question.id}#left-out", question=question.text, config=config.name, first_relevant_rank=None,
        answer=answer.text, abstained=answer.abstained, unanswerable=True, answer_in_answer=None,
        evidence_in_answer=None, missed_evidence=None, citation_precision=None,
        offsets_ok=_offsets_ok(assistant, answer), seconds=0.0, repeats_fact=repeats_fact(assistant, answer),
        left_out=True)


REPEAT_COSINE = 0.7  # two answer sentences this close (bundled MiniLM) state one fact twice (issue 11)


def repeats_fact(assistant, answer) -> bool | None:
    """Whether two of the answer's sentences say the same thing; None for answers of under two sentences."""
    texts = [s.text for s in answer.sentences]
    if len(texts) < 2:
        return None
    vectors = assistant.encoder.encode(texts)
    similarity = vectors @ vectors.T
    return bool((similarity[np.triu_indices(len(texts), 1)] >= REPEAT_COSINE).any())


def _offsets_ok(assistant, answer) -> bool:
    spans = [(s.article_id, s.start, s.end, s.text) for s in answer.sentences]
    spans += [(a.article_id, a.start, a.end, a.text) for s in answer.sentences for a in getattr(s, "also", ())]
    return all(assistant.article(article_id).body[start:end] == text for article_id, start, end, text in spans)


def run_question(assistant, dataset: Dataset, question: Question, config: Config) -> QuestionResult:
    started = time.perf_counter()
    as_of = question.date if config.time_aware else None
    answer = assistant.ask(question.text, options=config.options(as_of))
    seconds = time.perf_counter() - started
    gold = dataset.qrels.get(question.id, {})
    relevant = {a for a, grade in gold.items() if grade > 0}
    ranking = article_scores(answer.passages, relevant)
    first = next((i + 1 for i, (a, _) in enumerate(ranking) if a in relevant), None)
    shown = {p.article_id for p in answer.passages}
    evidence = [e.text for e in question.evidence if e.text]
    passages_text = [p.text for p in answer.passages]
    return QuestionResult(
        id=question.id, question=question.text, config=config.name, first_relevant_rank=first,
        answer=answer.text, abstained=answer.abstained, unanswerable=question.unanswerable,
        answer_in_answer=_contains(answer.text, question.answer) if question.answer and relevant else None,
        evidence_in_answer=(any(_contains(" ".join(s.text for s in answer.sentences), e) for e in evidence)
                            if evidence else None),
        missed_evidence=(not evidence_recall_at_k(passages_text, evidence, 10)) if evidence else None,
        citation_precision=_citation_precision(answer, relevant, evidence),
        cited_gold=_cited_gold(answer, relevant),
        offsets_ok=_offsets_ok(assistant, answer), repeats_fact=repeats_fact(assistant, answer),
        seconds=seconds, ranking=tuple(ranking[:100]),
        via_duplicate=first is not None and ranking[first - 1][0] not in shown,
        evidence_recall={k: evidence_recall_at_k(passages_text, evidence, k) for k in EVIDENCE_KS} if evidence else {},
    )


def article_scores(passages, relevant: set[str] = frozenset()) -> list[tuple[str, float]]:
    """Articles ranked by their best passage (max-passage), scores strictly decreasing by rank so
    that external tools re-sorting by score keep our order. A passage stands for its article and the
    near-duplicates folded into it (shown as "also reported by"); when one of those is relevant and the
    shown article is not, the entry takes the relevant id: the reader got that story at that rank."""
    order: dict[str, None] = {}
    named: dict[str, str] = {}  # shown article -> the name its group ranks under
    for p in passages:
        if p.article_id not in named:
            named[p.article_id] = p.article_id if p.article_id in relevant else next(
                (d for d in p.duplicate_ids if d in relevant), p.article_id)
        order.setdefault(named[p.article_id], None)
    n = len(order)
    return [(a, float(n - i)) for i, a in enumerate(order)]


def summarize(dataset: Dataset, rows: Sequence[QuestionResult]) -> dict[str, float]:
    """Means over the questions that were run (a --limit run is not scored on the others)."""
    asked = {r.id for r in rows}
    run = {r.id: list(r.ranking) for r in rows if r.id in dataset.qrels}
    timed = [r for r in rows if not r.left_out]
    per_query = evaluate_run(run, {q: judged for q, judged in dataset.qrels.items() if q in asked})
    metrics = aggregate(list(per_query.values()))
    answerable = [r for r in rows if not r.unanswerable and r.id in dataset.qrels]
    unanswerable = [r for r in rows if r.unanswerable]
    abstained = [r for r in rows if r.abstained]
    metrics.update(_mean("answer_in_answer", [r.answer_in_answer for r in answerable if not r.abstained]))
    metrics.update(_mean("answer_in_answer_all", [r.answer_in_answer for r in answerable]))
    metrics.update(_mean("evidence_in_answer", [r.evidence_in_answer for r in answerable]))
    metrics.update(_mean("citation_precision", [r.citation_precision for r in answerable]))
    metrics.update(_mean("cited_articles_gold", [r.cited_gold for r in answerable]))
    for k in EVIDENCE_KS:
        metrics.update(_mean(f"evidence_recall@{k}", [r.evidence_recall.get(k) for r in answerable]))
    metrics["hits_via_duplicate"] = float(sum(r.via_duplicate for r in rows))
    metrics["offsets_exact"] = sum(r.offsets_ok for r in rows) / len(rows) if rows else 1.0
    metrics["false_abstention"] = (sum(r.abstained for r in answerable) / len(answerable)) if answerable else 0.0
    if unanswerable:
        recall = sum(r.abstained for r in unanswerable) / len(unanswerable)
        precision = sum(r.unanswerable for r in abstained) / len(abstained) if abstained else 0.0
        metrics["abstention_recall"], metrics["abstention_precision"] = recall, precision
        metrics["abstention_f1"] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    metrics.update(_mean("repeated_fact", [r.repeats_fact for r in rows if not r.abstained]))
    metrics.update(latency_summary([r.seconds for r in timed]))
    metrics["questions"] = float(len(timed))
    return metrics


def _mean(name: str, values) -> dict[str, float]:
    values = [float(v) for v in values if v is not None]
    return {name: sum(values) / len(values)} if values else {}


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[“”\"'‘’]", "", text)).strip().lower()


def _contains(haystack: str, needle: str | None) -> bool:
    return bool(needle) and _normalize(needle) in _normalize(haystack)


def _cited_gold(answer, relevant: set[str]) -> float | None:
    if answer.abstained or not answer.cited or not relevant:
        return None
    cited = {c.passage.article_id for c in answer.cited}
    return len(cited & relevant) / len(cited)


def _citation_precision(answer, relevant: set[str], evidence: list[str]) -> float | None:
    if answer.abstained or not answer.cited or not relevant:
        return None
    good = [c for c in answer.cited if c.passage.article_id in relevant
            and (not evidence or any(_contains(c.passage.text, e) for e in evidence))]
    return len(good) / len(answer.cited)


def replace_k(config: Config, k: int) -> Config:
    return replace(config, k=k)


def ensure_index(dataset: Dataset, index_dir: Path, encoder) -> tuple[Path, float]:
    """Build or update the dataset's index; returns the folder and the build time in seconds."""
    from index.ingest import build_index

    if dataset.articles_path is None:
        return index_dir, 0.0
    report = build_index([str(dataset.articles_path)], index_dir, encoder, progress=True)
    return index_dir, report.seconds


def write_results(out: Path, dataset, results, build_seconds: float, index_dir: Path):
    from dataclasses import asdict

    from eval.report import write_report

    metrics = {name: {**r.metrics, "index_build_seconds": build_seconds} for name, r in results.items()}
    per_question = {name: [_row(asdict(q)) for q in r.questions] for name, r in results.items()}
    runs = {name: {q.id: list(q.ranking) for q in r.questions if q.id in dataset.qrels} for name, r in results.items()}
    label = " (synthetic questions)" if dataset.synthetic else ""
    notes = [f"dataset: {dataset.name}{label}, {len(dataset.questions)} questions; index: {index_dir}",
             "retrieval judged per article (an article's rank is its best passage's)"]
    return write_report(out, metrics, per_question=per_question, runs=runs,
                        title=f"Evaluation: {dataset.name}{label}", notes=notes)


def _row(row: dict) -> dict:
    row.pop("ranking", None)
    return row
