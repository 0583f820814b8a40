"""The Evaluation tab's work: questions about the CURRENT index (a questions file, or synthetic questions
drawn from the index) run through eval/ in the chosen retrieval modes → the report table, the recall
curve and the questions that failed.

Datasets that bring their own articles (an articles.jsonl beside the questions, a BEIR folder) are not
run here: they need an index of their own, which `assistant eval` builds; the app builds no indexes."""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from eval import datasets as eval_datasets

SOURCE_FILE = "A bundled question set"
SOURCE_UPLOAD = "An uploaded questions file"
SOURCE_SYNTHETIC = "Synthetic questions from this index"
SOURCES = (SOURCE_FILE, SOURCE_UPLOAD, SOURCE_SYNTHETIC)
BUNDLED_DIR = Path(eval_datasets.__file__).resolve().parent / "data"
DEMO_DATASET = BUNDLED_DIR / "demo_questions.jsonl"
UPLOAD_SUFFIXES = (".jsonl",)
MAX_QUESTIONS_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS_LABEL = "5 MB"
# Report files go under one folder of the system's temporary directory, so a saved report can be shown
# again after a reload without trusting any other path.
REPORTS_ROOT = Path(tempfile.gettempdir()) / "article-assistant-eval"
FAILURE_COLUMNS = ["Mode", "Question", "Gold article", "Expected answer", "First relevant rank", "Produced answer",
                   "Problem"]
TOP = 5  # a gold article ranked below this is a retrieval failure
K = 5  # passages each answer is made from, as in `assistant eval` by default
SYNTHETIC_ARTICLES = 100  # articles sampled for synthetic questions (as `assistant eval synthetic`)


@dataclass(frozen=True)
class Outcome:
    """What the tab shows: a message for people, the Markdown report, the recall-curve PNG and the failures."""

    message: str
    report_md: str = ""
    plot: str | None = None
    failures: list[list[str]] = field(default_factory=list)
    folder: Path | None = None


class Refused(Exception):
    """The evaluation cannot run as asked; the message says why, in one line or two."""


def bundled_sets() -> list[str]:
    """The question sets that ship with the project (eval/data/*.jsonl), by file name."""
    return sorted(p.name for p in BUNDLED_DIR.glob("*.jsonl"))


def upload_roots() -> list[Path]:
    """Where Gradio keeps uploaded files (its cache): the only other place a questions file may come from."""
    import os

    roots = [Path(tempfile.gettempdir()) / "gradio"]
    if os.environ.get("GRADIO_TEMP_DIR"):
        roots.insert(0, Path(os.environ["GRADIO_TEMP_DIR"]))
    return [r.resolve() for r in roots]


def run_evaluation(assistant, source: str, path: str | None, modes: Sequence[str] | None, limit: float | str | None,
                   time_aware: bool = True, progress: Callable | None = None, out: Path | None = None,
                   upload: str | None = None, upload_roots: Sequence[Path] | None = None) -> Outcome:
    """Never raises for bad input: every problem comes back as Outcome.message (no traceback).

    Reads only a bundled question set named by `path` (a file name from bundled_sets()) or a file uploaded
    through the tab (`upload`, inside Gradio's upload folder): never another server path."""
    from eval.datasets import DatasetError

    try:
        chosen = _modes(modes)
        limit = _limit(limit)
        dataset, label = _dataset(assistant, source, path, limit, upload, upload_roots)
        dataset = first_questions(dataset, limit)
        notes = _coverage(assistant, dataset)
        return _run(assistant, dataset, label, chosen, bool(time_aware), progress, notes, out)
    except Refused as err:
        return Outcome(str(err))
    except DatasetError as err:
        return Outcome(f"Cannot use this dataset: {err}")
    except Exception as err:  # noqa: BLE001 - one line in the tab; the app keeps going
        from assistant.errors import user_message

        return Outcome(f"The evaluation failed: {user_message(err) or f'{type(err).__name__}: {err}'}")


def _modes(modes: Sequence[str] | str | None) -> list[str]:
    from assistant.options import MODES

    wanted = [modes] if isinstance(modes, str) else list(modes or [])
    unknown = [m for m in wanted if m not in MODES]
    if unknown:
        raise Refused(f"Unknown retrieval mode {unknown[0]!r} (use {', '.join(MODES)}).")
    chosen = [m for m in MODES if m in wanted]
    if not chosen:
        raise Refused("Choose at least one retrieval mode.")
    return chosen


def _limit(limit: float | str | None) -> int | None:
    """"all" (or empty) → None; a whole number ≥ 1 → itself; 0 still means all, for API callers."""
    if limit is None or (isinstance(limit, str) and limit.strip().lower() in ("", "all")):
        return None
    try:
        value = float(limit)
    except (TypeError, ValueError, OverflowError):
        raise Refused(f"The question limit must be a whole number or “all”, not {limit!r}.") from None
    if value < 0 or not value.is_integer():
        raise Refused(f"The question limit must be a whole number of at least 1, or “all”, not {limit}.")
    return int(value) or None


def _dataset(assistant, source: str, path: str | None, limit: int | None, upload: str | None = None,
             roots: Sequence[Path] | None = None):
    from eval.datasets import load_dataset, synthetic_questions

    if source == SOURCE_SYNTHETIC:
        rows = assistant.articles()
        if not rows:
            raise Refused("The index has no articles to draw questions from.")
        n = min(SYNTHETIC_ARTICLES, limit or SYNTHETIC_ARTICLES)
        articles = [(a.id, a.title, assistant.article(a.id).body) for a in rows]
        dataset = synthetic_questions(articles, n=n)
        if not dataset.questions:
            raise Refused("No synthetic questions could be drawn: the articles have no titles or long sentences.")
        return dataset, "synthetic questions drawn from this index"
    if source == SOURCE_FILE:
        name = (path or "").strip() if isinstance(path, str) else ""
        if not name:
            raise Refused("Choose one of the bundled question sets, upload a questions file, or choose synthetic "
                          "questions.")
        if name not in bundled_sets():
            raise Refused(f"{name[:80]!r} is not one of the bundled question sets ({', '.join(bundled_sets())}); "
                          "upload your own file instead.")
        where = BUNDLED_DIR / name
    elif source == SOURCE_UPLOAD:
        where = _uploaded(upload, roots)
    else:
        raise Refused(f"Unknown question source {source!r}.")
    dataset = load_dataset(where)
    if dataset.articles_path is not None:
        brought = ("a BEIR folder with its own corpus" if dataset.kind == "beir"
                   else f"its own articles ({dataset.articles_path.name} beside it)")
        raise Refused(f"This dataset brings {brought}, so it needs an index of its own, which the app does not "
                      f"build. Run it from the command line, which builds and reuses that index:\n"
                      f"    assistant eval {where}")
    return dataset, f"questions from {_display_name(where, source)}"


def _uploaded(upload: str | None, roots: Sequence[Path] | None) -> Path:
    """The uploaded questions file, if it is one: inside Gradio's upload folder, a .jsonl, within the size
    limit. Nothing else on the server is opened."""
    if not upload or not isinstance(upload, str):
        raise Refused("Upload a questions file (.jsonl) first.")
    where = Path(upload)
    try:
        resolved = where.resolve(strict=True)
    except (OSError, RuntimeError):
        raise Refused("The uploaded file is no longer on the server: upload it again.") from None
    if not any(resolved.is_relative_to(root) for root in (roots or upload_roots())):
        raise Refused("Only files uploaded through this tab, or the bundled question sets, can be evaluated.")
    if resolved.suffix.lower() not in UPLOAD_SUFFIXES or not resolved.is_file():
        raise Refused(f"{where.name}: expected a questions .jsonl file (one JSON object per line).")
    if resolved.stat().st_size > MAX_QUESTIONS_BYTES:
        raise Refused(f"{where.name}: larger than the {MAX_QUESTIONS_LABEL} limit for questions files.")
    return resolved


def first_questions(dataset, limit: int | None):
    """The dataset cut to its first `limit` questions, judgements included: eval.runs.summarize scores
    every judged question of the dataset it is given (one not run counts as a miss)."""
    if not limit or limit >= len(dataset.questions):
        return dataset
    kept = dataset.questions[:limit]
    return replace(dataset, questions=kept, qrels={q.id: dataset.qrels[q.id] for q in kept if q.id in dataset.qrels})


def _coverage(assistant, dataset) -> list[str]:
    """Refuse a dataset none of whose gold articles is indexed (every question would fail); note a partial one."""
    gold = {a for judged in dataset.qrels.values() for a, grade in judged.items() if grade > 0}
    notes = []
    if gold:
        missing = gold - {a.id for a in assistant.articles()}
        if missing == gold:
            raise Refused(f"None of the dataset's {len(gold)} gold articles is in the current index, so every "
                          "question would fail. Questions files are evaluated against the index the app serves "
                          "(the bundled demo questions are about the demo corpus).")
        if missing:
            notes.append(f"{len(missing)} of {len(gold)} gold articles are not in this index: their questions "
                         "count as misses.")
    if dataset.dropped:
        notes.append(f"{dataset.dropped} questions without gold articles were left out.")
    return notes


def _run(assistant, dataset, label: str, modes: list[str], time_aware: bool,
         progress: Callable | None, notes: list[str], out: Path | None) -> Outcome:
    from eval.runs import Config, ConfigResult, run_question, summarize, write_results

    questions = dataset.questions
    total, done = len(questions) * len(modes), 0
    started = time.perf_counter()
    results = {}
    for mode in modes:  # as eval.runs.run_config, one question at a time so that progress can be shown
        config = Config(mode, K, time_aware)
        rows = []
        for question in questions:
            if progress is not None:
                progress((done, total), desc=f"Evaluating {mode} retrieval", unit="questions")
            rows.append(run_question(assistant, dataset, question, config))
            done += 1
        results[config.name] = ConfigResult(config, summarize(dataset, rows), tuple(rows))
    seconds = time.perf_counter() - started
    if out is None:
        REPORTS_ROOT.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix="run-", dir=REPORTS_ROOT))
    folder = out
    index_dir = getattr(getattr(assistant, "store", None), "folder", "the current index")
    files = write_results(folder, dataset, results, 0.0, index_dir)
    failures = failure_rows(dataset, results)
    failed = len({row[1] for row in failures})
    found = f"{len(failures)} failure(s) on {failed} question(s), listed below" if failures else "no failures"
    message = [f"Evaluated {len(questions)} {label} in {len(modes)} mode(s) ({', '.join(modes)}) against the "
               f"current index in {seconds:.1f} s: {found}.", *notes]
    return Outcome("\n".join(message), report_markdown(files.report_md.read_text(encoding="utf-8")),
                   str(files.recall_curve) if files.recall_curve else None, failures, folder)


def _display_name(where: Path, source: str) -> str:
    """Uploads are stored as <cache>/<hash>/<name>: the name is what the user knows."""
    return where.name


def saved_report(outcome: Outcome) -> dict:
    """What the browser keeps of the last report (gr.BrowserState), so that it outlives a reload."""
    return {"message": outcome.message, "report_md": outcome.report_md, "plot": outcome.plot,
            "failures": outcome.failures}


def restore_report(saved) -> tuple[str, str, str | None, list]:
    """(status, report, plot, failures) from a saved report; the plot only from this app's report folder."""
    if not isinstance(saved, dict) or not saved.get("message"):
        return "", "", None, []
    plot = saved.get("plot")
    if plot:
        try:
            resolved = Path(plot).resolve(strict=True)
            plot = str(resolved) if resolved.is_relative_to(REPORTS_ROOT.resolve()) else None
        except (OSError, RuntimeError, TypeError):
            plot = None
    failures = saved.get("failures")
    rows = [[str(c) for c in row] for row in failures if isinstance(row, list)] if isinstance(failures, list) else []
    return str(saved["message"]), str(saved.get("report_md") or ""), plot, rows


def report_markdown(text: str) -> str:
    """The report's title as a small heading (the tab has its own), the table as it is."""
    return re.sub(r"^# ", "#### ", text, count=1)


def failure_rows(dataset, results) -> list[list[str]]:
    """Per mode, the questions that went wrong, with what was expected and what came out (plain text cells)."""
    by_id = {q.id: q for q in dataset.questions}
    rows = []
    for name, result in results.items():
        for r in result.questions:
            problems = problems_of(r)
            if not problems:
                continue
            question = by_id.get(r.id)
            gold = ", ".join(e.article_id for e in question.evidence) if question else ""
            if r.unanswerable:
                expected, rank = "(no answer: should abstain)", "–"
            else:
                expected = (question.answer if question and question.answer else "–")
                rank = str(r.first_relevant_rank) if r.first_relevant_rank else "not retrieved"
            rows.append([name, r.question, gold or "–", expected, rank, "(abstained)" if r.abstained else r.answer,
                         "; ".join(problems)])
    return rows


def problems_of(r) -> list[str]:
    """Why a question counts as a failure: retrieval (gold article below the top 5), answer (the expected
    answer string not in it) or abstention (on an answerable question, or none on an unanswerable one)."""
    if r.unanswerable:
        return [] if r.abstained else ["answered an unanswerable question"]
    problems = []
    if r.first_relevant_rank is None or r.first_relevant_rank > TOP:
        problems.append(f"gold article not in the top {TOP}")
    if r.abstained:
        problems.append("abstained on an answerable question")
    elif r.answer_in_answer is False:
        problems.append("expected answer missing")
    return problems
