"""Briefings over RealTime QA weeks: "What happened in the past week?" asked as of each quiz date.

Per window (one per distinct question date of the split's weeks), with no gold stories to compare with:
- in_window: every cited article (and every article of a listed story) is published inside the window;
- stories: how many distinct stories are listed, and whether at least 3 are when the window holds 3;
- duplicates: listed stories that share a near-duplicate group (must be 0), and pairs of listed lead
  sentences so alike (cosine ≥ SAME_EVENT_COSINE) that they read as one event told twice;
- quiz coverage: the share of that week's quiz gold articles (published in the window) that belong to a
  listed story: the weekly news quiz asks about the week's main stories, so a briefing should hold them.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.options import AskOptions
from eval.report import write_rows
from eval.splits import assign_splits

QUESTIONS = ("What happened in the past week?", "What's the latest news?")
SAME_EVENT_COSINE = 0.85  # two listed leads this close (bundled MiniLM) tell the same event


@dataclass(frozen=True)
class Window:
    as_of: str
    week: str
    split: str
    gold: tuple[str, ...]  # quiz gold article ids of that week


@dataclass(frozen=True)
class BriefingResult:
    as_of: str
    week: str
    split: str
    question: str
    window: tuple[str | None, str | None] | None
    window_articles: int
    stories_listed: int
    more_stories: int
    in_window: bool
    enough_stories: bool | None  # None when the window holds fewer than 3 stories
    duplicate_stories: int
    same_event_pairs: int
    quiz_coverage: float | None  # None when no gold article lies in the window
    offsets_ok: bool
    seconds: float
    text: str


def windows(questions_path: Path | str, part: str = "all") -> list[Window]:
    records = [json.loads(line) for line in Path(questions_path).read_text(encoding="utf-8").splitlines()
               if line.strip()]
    splits = assign_splits(records)
    by_date: dict[str, dict] = {}
    for record in records:
        split = splits.get(str(record["id"])) or ""
        if part != "all" and split != part:
            continue
        when = str(record.get("question_date") or "")[:10]
        if not when:
            continue
        entry = by_date.setdefault(when, {"week": record.get("week", ""), "split": split, "gold": []})
        entry["gold"] += [e["article_id"] for e in record.get("evidence") or []]
    return [Window(d, v["week"], v["split"], tuple(dict.fromkeys(v["gold"]))) for d, v in sorted(by_date.items())]


def run_window(assistant, window: Window, question: str, k: int = 5) -> BriefingResult:
    started = time.perf_counter()
    answer = assistant.ask(question, options=AskOptions(k=k, as_of=window.as_of))
    seconds = time.perf_counter() - started
    start, end = answer.time_window or (None, None)
    infos = {a.id: a for a in assistant.articles()}
    story_ids = [story.article_ids for story in answer.stories]
    listed = {a for ids in story_ids for a in ids} | {c.passage.article_id for c in answer.cited}
    in_window = all(_inside(infos[a].published_at, start, end) for a in listed)
    groups = assistant.near_duplicates()
    seen: dict[str, int] = {}
    duplicates = 0
    for number, ids in enumerate(story_ids):
        for leader in {groups.get(a, a) for a in ids}:
            if seen.setdefault(leader, number) != number:
                duplicates += 1
    pairs = 0
    if len(answer.sentences) > 1:
        vectors = assistant.encoder.encode([s.text for s in answer.sentences])
        similarity = vectors @ vectors.T
        pairs = int((similarity[np.triu_indices(len(vectors), 1)] >= SAME_EVENT_COSINE).sum())
    available = len(answer.stories) + answer.more_stories
    gold = [g for g in window.gold if g in infos and _inside(infos[g].published_at, start, end)]
    covered = {a for ids in story_ids for a in ids}
    offsets = all(assistant.article(s.article_id).body[s.start:s.end] == s.text for s in answer.sentences)
    return BriefingResult(
        window.as_of, window.week, window.split, question, answer.time_window, answer.window_articles,
        len(answer.stories), answer.more_stories, in_window,
        (len(answer.stories) >= 3) if available >= 3 else None, duplicates, pairs,
        (sum(g in covered for g in gold) / len(gold)) if gold else None, offsets, seconds, answer.text)


def _inside(published: str | None, start: str | None, end: str | None) -> bool:
    return bool(published) and (start is None or published >= start) and (end is None or published <= end)


def summarize(rows: Sequence[BriefingResult]) -> dict[str, float]:
    def share(values):
        values = [bool(v) for v in values if v is not None]
        return sum(values) / len(values) if values else float("nan")

    coverage = [r.quiz_coverage for r in rows if r.quiz_coverage is not None]
    return {
        "windows": float(len(rows)),
        "in_window": share(r.in_window for r in rows),
        "enough_stories": share(r.enough_stories for r in rows),
        "duplicate_stories": float(sum(r.duplicate_stories for r in rows)),
        "same_event_pairs": float(sum(r.same_event_pairs for r in rows)),
        "stories_mean": statistics.fmean(r.stories_listed for r in rows) if rows else float("nan"),
        "window_articles_mean": statistics.fmean(r.window_articles for r in rows) if rows else float("nan"),
        "stories_in_window_mean": statistics.fmean(r.stories_listed + r.more_stories for r in rows)
        if rows else float("nan"),
        "quiz_coverage": statistics.fmean(coverage) if coverage else float("nan"),
        "offsets_exact": share(r.offsets_ok for r in rows),
        "latency_p50_ms": 1000 * statistics.median(r.seconds for r in rows) if rows else float("nan"),
    }


def evaluate(assistant, questions_path: Path | str, part: str = "all", k: int = 5,
             questions: Sequence[str] = QUESTIONS) -> tuple[dict[str, dict[str, float]], list[BriefingResult]]:
    rows = [run_window(assistant, w, q, k) for w in windows(questions_path, part) for q in questions]
    metrics = {}
    for split in sorted({r.split for r in rows}):
        metrics[split] = summarize([r for r in rows if r.split == split])
        for question in questions:
            metrics[f"{split}: {question}"] = summarize(
                [r for r in rows if r.split == split and r.question == question])
    return metrics, rows


def write(out: Path, metrics: dict, rows: Sequence[BriefingResult]) -> Path:
    return write_rows(out, metrics, rows, "briefings.jsonl")


def table(metrics: dict) -> str:
    names = ["windows", "in_window", "enough_stories", "duplicate_stories", "same_event_pairs", "stories_mean",
             "stories_in_window_mean", "window_articles_mean", "quiz_coverage", "offsets_exact", "latency_p50_ms"]
    columns = list(metrics)
    lines = ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name in names:
        values = [metrics[c].get(name) for c in columns]
        lines.append(f"| {name} | " + " | ".join("–" if v != v else f"{v:.3g}" for v in values) + " |")
    return "\n".join(lines)
