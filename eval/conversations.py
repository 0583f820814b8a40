"""Multi-turn conversations (eval/data/conversations.jsonl) through the real engine, turn by turn.

Each turn is asked with the earlier turns' Answers as history. Scored per turn: Hit@k of its gold
article (a near-duplicate shown in its place counts, as in runs.article_scores), whether the answer
contains the gold answer and the evidence sentence, and, for follow-ups, whether every sentence of the
answer had already been shown earlier in the conversation (the repeated-answer rate). Latency: each
turn against the same rewritten question asked alone, so the overhead of the conversation is measured.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.options import AskOptions
from eval.report import write_rows
from eval.runs import _contains, article_scores

HIT_KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class ConversationTurn:
    question: str
    answer: str | None
    evidence: tuple[tuple[str, str | None], ...]  # (article id, sentence)
    kind: str
    date: str | None = None


@dataclass(frozen=True)
class Conversation:
    id: str
    corpus: str
    split: str
    turns: tuple[ConversationTurn, ...]


@dataclass(frozen=True)
class TurnResult:
    conversation: str
    corpus: str
    split: str
    turn: int
    kind: str
    question: str
    read_as: str
    rank: int | None  # of the first gold article among the answer's articles, 1-based
    answer_in_answer: bool | None
    evidence_in_answer: bool | None
    abstained: bool
    repeated: bool | None  # follow-ups that answered: every sentence already shown earlier; None otherwise
    seconds: float
    single_seconds: float  # the rewritten question asked alone
    answer: str = field(default="", repr=False)


def load_conversations(path: Path | str, part: str = "all") -> list[Conversation]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if part != "all" and record.get("split") != part:
            continue
        turns = tuple(ConversationTurn(t["question"], t.get("answer"),
                                       tuple((e["article_id"], e.get("text")) for e in t.get("evidence") or []),
                                       t.get("kind", ""), t.get("question_date")) for t in record["turns"])
        out.append(Conversation(record["id"], record.get("corpus", "demo"), record.get("split", ""), turns))
    return out


def is_conversation_file(path: Path | str) -> bool:
    path = Path(path)
    if not path.is_file() or path.suffix != ".jsonl":
        return False
    with path.open(encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), "")
    try:
        return "turns" in json.loads(first)
    except json.JSONDecodeError:
        return False


def run_conversation(assistant, conversation: Conversation, k: int = 5, mode: str = "hybrid",
                     use_history: bool = True) -> list[TurnResult]:
    history: list = []
    shown: set[tuple[str, int]] = set()
    rows = []
    for number, turn in enumerate(conversation.turns, start=1):
        options = AskOptions(k=k, mode=mode, as_of=turn.date)
        started = time.perf_counter()
        answer = assistant.ask(turn.question, history if use_history else (), options=options)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        assistant.ask(answer.query, (), options=options)
        single = time.perf_counter() - started
        relevant = {a for a, _ in turn.evidence}
        ranking = [a for a, _ in article_scores(answer.passages, relevant)]
        rank = next((i + 1 for i, a in enumerate(ranking) if a in relevant), None)
        spans = {(s.article_id, s.start) for s in answer.sentences}
        repeated = (bool(spans) and spans <= shown) if number > 1 and not answer.abstained else None
        answer_text = " ".join(s.text for s in answer.sentences)
        evidence = [text for _, text in turn.evidence if text]
        rows.append(TurnResult(
            conversation.id, conversation.corpus, conversation.split, number, turn.kind, turn.question,
            answer.query, rank, _contains(answer_text, turn.answer) if turn.answer else None,
            any(_contains(answer_text, e) for e in evidence) if evidence else None, answer.abstained, repeated,
            seconds, single, answer.text))
        shown |= spans
        history.append(answer)
    return rows


def summarize(rows: Sequence[TurnResult]) -> dict[str, float]:
    follow = [r for r in rows if r.turn > 1]
    metrics: dict[str, float] = {"turns": float(len(rows)), "follow_up_turns": float(len(follow))}
    for name, group in (("all", rows), ("follow_up", follow)):
        for k in HIT_KS:
            metrics[f"{name}_hit@{k}"] = _share([r.rank is not None and r.rank <= k for r in group])
        metrics[f"{name}_answer_in_answer"] = _share([r.answer_in_answer for r in group])
        metrics[f"{name}_evidence_in_answer"] = _share([r.evidence_in_answer for r in group])
        metrics[f"{name}_abstained"] = _share([r.abstained for r in group])
    metrics["repeated_answer_rate"] = _share([r.repeated for r in follow])
    kinds = sorted({r.kind for r in rows})
    for kind in kinds:
        metrics[f"hit@5_{kind}"] = _share([r.rank is not None and r.rank <= 5 for r in rows if r.kind == kind])
    metrics["turn_p50_ms"] = 1000 * statistics.median(r.seconds for r in follow) if follow else float("nan")
    metrics["single_p50_ms"] = 1000 * statistics.median(r.single_seconds for r in follow) if follow else float("nan")
    metrics["overhead_p50_ms"] = (1000 * statistics.median(r.seconds - r.single_seconds for r in follow)
                                  if follow else float("nan"))
    return metrics


def _share(values) -> float:
    values = [bool(v) for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def evaluate(assistants: Mapping[str, object], conversations: Sequence[Conversation], k: int = 5,
             use_history: bool = True) -> tuple[dict[str, dict[str, float]], list[TurnResult]]:
    """Metrics per split (and per corpus within it) and every turn's result."""
    rows: list[TurnResult] = []
    for conversation in conversations:
        rows += run_conversation(assistants[conversation.corpus], conversation, k, use_history=use_history)
    metrics = {}
    for split in sorted({r.split for r in rows}):
        in_split = [r for r in rows if r.split == split]
        metrics[split] = summarize(in_split)
        for corpus in sorted({r.corpus for r in in_split}):
            metrics[f"{split}-{corpus}"] = summarize([r for r in in_split if r.corpus == corpus])
    return metrics, rows


def write(out: Path, metrics: dict, rows: Sequence[TurnResult]) -> Path:
    return write_rows(out, metrics, rows, "turns.jsonl")


def table(metrics: Mapping[str, Mapping[str, float]]) -> str:
    names = ["follow_up_hit@5", "all_hit@5", "follow_up_answer_in_answer", "follow_up_evidence_in_answer",
             "repeated_answer_rate", "follow_up_abstained", "turn_p50_ms", "single_p50_ms", "overhead_p50_ms"]
    splits = list(metrics)
    lines = ["| metric | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    kinds = sorted({n for m in metrics.values() for n in m if n.startswith("hit@5_")})
    for name in names + kinds + ["turns", "follow_up_turns"]:
        lines.append(f"| {name} | " + " | ".join(_fmt(metrics[s].get(name)) for s in splits) + " |")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.3f}"
