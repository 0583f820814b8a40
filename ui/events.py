"""Event handlers as plain functions over the Assistant API, so they can be tested without a browser.

Chat history is two parallel things: the Chatbot's messages (what is shown, Gradio's message dicts) and
the list of Answer objects kept in gr.State (what follow-ups and citation links refer to)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.errors import UserError, user_message
from assistant.options import AskOptions, OptionError
from assistant.results import Answer, Filters
from ui import views

ALLOWED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_LABEL = "20 MB"
MAX_QUESTION_CHARS = 1000
ARTICLE_COLUMNS = ["Title", "Source", "Date", "Chunks", "ID"]

Message = dict[str, Any]


def _as_list(value: Any) -> list:
    return list(value) if value else []


def parse_date(value: str | None, label: str) -> str | None:
    """'' → None; a YYYY-MM-DD date → itself; anything else is the user's to fix."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise UserError(f"the '{label}' date must look like 2020-06-10, not '{value}'") from None


def make_filters(sources: Sequence[str] | str | None, date_from: str | None, date_to: str | None) -> Filters:
    if isinstance(sources, str):
        sources = [sources]
    start, end = parse_date(date_from, "from"), parse_date(date_to, "to")
    if start and end and start > end:
        raise UserError(f"the date range is empty ({start} is after {end})")
    return Filters(sources=tuple(s for s in _as_list(sources) if s), date_from=start, date_to=end)


def form_options(*, sources: Sequence[str] | str | None = None, date_from: str | None = None,
                 date_to: str | None = None, k: int | float | str | None = 5, mode: str = "hybrid",
                 max_sentences: int | float | str | None = 3, as_of: str | None = None,
                 time_aware: bool | None = True, per_article: int | float | str | None = 2) -> AskOptions:
    """A form's (or an HTTP call's) raw values as AskOptions; a value out of range is the user's to fix."""
    try:
        return AskOptions(filters=make_filters(sources, date_from, date_to), k=_whole(k, "k"), mode=mode,
                          max_sentences=_whole(max_sentences, "max_sentences"), as_of=parse_date(as_of, "as of"),
                          time_aware=time_aware is not False, per_article=_whole(per_article, "per_article"))
    except OptionError as err:
        raise UserError(str(err)) from None


def _whole(value, name: str) -> int:
    """Sliders and JSON send floats (5.0); a whole number in any form is accepted, nothing else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"'{name}' must be a whole number, not {value!r}") from None
    if not number.is_integer():
        raise UserError(f"'{name}' must be a whole number, not {value!r}")
    return int(number)


class Events:
    """All the app's behaviour; app.py only wires these methods to components."""

    def __init__(self, assistant):
        self.assistant = assistant

    # --- asking -----------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Answer] = (), options: AskOptions | None = None) -> Answer:
        """One question against the current snapshot (the engine keeps it open until it is done)."""
        question = (question or "").strip()
        if not question:
            raise UserError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise UserError(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        return self.assistant.ask(question, history=list(history), options=options or AskOptions())

    def push_question(self, question: str, messages: list[Message] | None) -> tuple[list[Message], str, str]:
        """First step of a turn: show the question at once and clear the box (the answer follows)."""
        messages = _as_list(messages)
        question = (question or "").strip()
        if not question:
            return messages, "", ""
        return messages + [{"role": "user", "content": views.user_message(question)}], "", question

    def answer(self, question: str, messages: list[Message] | None, answers: list[Answer] | None,
               sources: Sequence[str] | None = None, date_from: str | None = None, date_to: str | None = None,
               k: int = 5, mode: str = "hybrid", max_sentences: int = 3, as_of: str | None = None,
               time_aware: bool = True) -> tuple:
        """Second step: the answer appended to the chat and to the history; the panel shows its passages.

        Returns (messages, answers, panel html, article html, "Search all dates" button update)."""
        messages, answers = _as_list(messages), _as_list(answers)
        if not (question or "").strip():
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        form = dict(sources=sources, date_from=date_from, date_to=date_to, k=k, mode=mode,
                    max_sentences=max_sentences, as_of=as_of, time_aware=time_aware is not False)
        return self._answer(question, answers, messages, answers, form)

    def push_all_dates(self, messages: list[Message] | None, answers: list[Answer] | None) -> tuple:
        """First step of "Search all dates": the last question shows again, marked, and the button hides.

        Returns (messages, button update)."""
        messages, answers = _as_list(messages), _as_list(answers)
        if not answers:
            return gr.skip(), gr.update(visible=False)
        return (messages + [{"role": "user", "content": views.all_dates_message(answers[-1].question)}],
                gr.update(visible=False))

    def answer_all_dates(self, messages: list[Message] | None, answers: list[Answer] | None,
                         sources: Sequence[str] | None = None, date_from: str | None = None,
                         date_to: str | None = None, k: int = 5, mode: str = "hybrid", max_sentences: int = 3,
                         as_of: str | None = None) -> tuple:
        """Second step: the last question asked again with time_aware=False (no window or preference from
        its time words), read with the same earlier turns as the first time; a new turn of the chat.

        Returns what `answer` returns."""
        messages, answers = _as_list(messages), _as_list(answers)
        if not answers:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        form = dict(sources=sources, date_from=date_from, date_to=date_to, k=k, mode=mode,
                    max_sentences=max_sentences, as_of=as_of, time_aware=False)
        return self._answer(answers[-1].question, answers[:-1], messages, answers, form)

    def _answer(self, question: str, history: Sequence[Answer], messages: list[Message], answers: list[Answer],
                form: dict) -> tuple:
        """Ask with the form's options; the answer (or a one-line error) becomes the chat's next turn."""
        try:
            result = self.ask(question, history, form_options(**form))
        except Exception as err:  # noqa: BLE001 - shown in the chat as one line, the app keeps going
            message = user_message(err) or f"{type(err).__name__}: {err}"
            return messages + [{"role": "assistant", "content": views.error_message(message)}], answers, \
                gr.skip(), gr.skip(), gr.update(visible=False)
        turn = len(answers)
        explicit = bool((form["as_of"] or "").strip())
        messages = messages + [{"role": "assistant", "content": views.answer_message(
            result, turn, form["time_aware"], explicit)}]
        offer = views.time_shaped(result, form["time_aware"], explicit)
        return (messages, answers + [result], views.panel_html(result, turn), views.article_placeholder(),
                gr.update(visible=offer))

    def select(self, answers: list[Answer] | None, key: str | None) -> tuple:
        """A passage card or an [n] marker was chosen: mark it in the panel, show its whole article.

        Returns (panel html, article html); gr.skip() for both when the key names nothing."""
        answers = _as_list(answers)
        parsed = views.parse_cite_key(key)
        if parsed is None or parsed[0] >= len(answers):
            return gr.skip(), gr.skip()
        turn, number = parsed
        answer = answers[turn]
        shown = views.find_shown(answer, number)
        if shown is None:
            return gr.skip(), gr.skip()
        return views.panel_html(answer, turn, selected=number), self.article_view(answer, shown)

    def article_view(self, answer: Answer, shown: views.Shown) -> str:
        passage = shown.passage
        try:
            article = self.assistant.article(passage.article_id)
        except KeyError:
            return views.article_missing(passage.article_id)
        supporting = [(s.start, s.end) for s in answer.sentences
                      if s.citation == shown.number and s.article_id == passage.article_id]
        if not supporting:  # highlights within the passage are the same sentences, in passage offsets
            supporting = [(passage.start + a, passage.start + b) for a, b in shown.highlights]
        return views.article_html(article, supporting, (passage.start, passage.end), shown.number)

    @staticmethod
    def new_conversation() -> tuple:
        """Returns (messages, answers, panel html, article html, question box, "Search all dates" button)."""
        return [], [], views.panel_html(None), views.article_placeholder(), "", gr.update(visible=False)

    # --- evaluation -------------------------------------------------------------------------------

    def evaluate(self, source: str, path: str | None, modes: Sequence[str] | None, limit: float | None,
                 time_aware: bool = True, progress: Callable | None = None) -> tuple:
        """The Evaluation tab's Run: returns (status, report markdown, recall-curve PNG path, failure rows).
        Any problem is the status alone, the other outputs cleared."""
        from ui.evaluation import run_evaluation

        outcome = run_evaluation(self.assistant, source, path, modes, limit, time_aware, progress)
        return outcome.message, outcome.report_md, outcome.plot, outcome.failures

    # --- corpus -----------------------------------------------------------------------------------

    def list_articles(self) -> list[dict]:
        """The articles of the current snapshot as JSON-ready dicts, newest first."""
        return [
            {"id": a.id, "title": a.title, "source": a.source, "published_at": a.published_at, "url": a.url,
             "authors": list(a.authors), "chunks": a.n_chunks}
            for a in self.assistant.articles()
        ]

    def article_rows(self) -> list[list]:
        return [[a["title"], a["source"] or "", a["published_at"] or "", a["chunks"], a["id"]]
                for a in self.list_articles()]

    def source_choices(self) -> list[str]:
        return sorted({a.source for a in self.assistant.articles() if a.source})

    def article_choices(self) -> list[tuple[str, str]]:
        return [(f"{a.title} ({a.id})", a.id) for a in self.assistant.articles()]

    def corpus_summary(self) -> str:
        rows = self.assistant.articles()
        dates = sorted(a.published_at for a in rows if a.published_at)
        span = f", {dates[0]} to {dates[-1]}" if dates else ""
        return f"{len(rows)} articles{span}"

    def refresh_corpus(self) -> tuple:
        """Returns (table rows, source filter choices, removal choices, summary) after the corpus changed."""
        return (self.article_rows(), gr.update(choices=self.source_choices()),
                gr.update(choices=self.article_choices(), value=[]), self.corpus_summary())

    def ingest(self, files: Sequence[Any] | str | None, progress: Callable | None = None) -> tuple[str, dict]:
        """Check type and size of each upload, then ingest the accepted ones in one commit.

        Runs beside questions: the engine swaps in the new snapshot only after the commit.
        Returns (a message for people, the report as a dict)."""
        paths = [_file_path(f) for f in ([files] if isinstance(files, (str, dict)) else _as_list(files))]
        accepted, rejected = [], []
        for path in paths:
            name = Path(path).name
            if Path(path).suffix.lower() not in ALLOWED_SUFFIXES:
                rejected.append({"file": name, "reason": f"not an accepted type (use {' '.join(ALLOWED_SUFFIXES)})"})
            elif not Path(path).is_file():
                rejected.append({"file": name, "reason": "upload not found on the server"})
            elif Path(path).stat().st_size > MAX_UPLOAD_BYTES:
                rejected.append({"file": name, "reason": f"larger than the {MAX_UPLOAD_LABEL} limit"})
            else:
                accepted.append(path)
        report = {"added": [], "updated": [], "unchanged": [], "skipped": list(rejected), "notes": [],
                  "chunks_embedded": 0, "seconds": 0.0}
        if not paths:
            return "No files were uploaded.", report
        if accepted:
            expected = None if any(p.lower().endswith(".jsonl") for p in accepted) else len(accepted)

            def prepared(done: int) -> None:
                if progress is not None:
                    progress((done, expected), desc="Preparing and embedding articles", unit="articles")

            if progress is not None:
                progress((0, expected), desc="Reading files", unit="articles")
            try:
                result = self.assistant.ingest(accepted, progress=prepared)
            except Exception as err:  # noqa: BLE001 - one clear line in the corpus tab
                message = user_message(err) or f"{type(err).__name__}: {err}"
                raise gr.Error(f"Ingest failed, the index is unchanged: {message}") from err
            report.update(added=result.added, updated=result.updated, unchanged=result.unchanged,
                          chunks_embedded=result.chunks_embedded, seconds=round(result.seconds, 2))
            report["skipped"] += [{"file": Path(p.where).name, "reason": p.reason} for p in result.skipped]
            report["notes"] = [{"file": Path(p.where).name, "reason": p.reason} for p in result.notes]
        return ingest_message(report), report

    def remove(self, article_ids: Sequence[str] | str | None) -> str:
        ids = [article_ids] if isinstance(article_ids, str) else _as_list(article_ids)
        if not ids:
            return "Nothing removed (no article chosen)."
        removed, unknown = self.assistant.remove(ids)
        parts = [f"Removed {len(removed)} article(s): {', '.join(removed)}." if removed else "Nothing removed."]
        if unknown:
            parts.append(f"Not in the index: {', '.join(unknown)}.")
        return " ".join(parts)


def ingest_message(report: dict) -> str:
    """Plain text (shown in a Textbox, so file names cannot inject markup)."""
    counts = (f"Added {len(report['added'])}, updated {len(report['updated'])}, "
              f"unchanged {len(report['unchanged'])}, skipped {len(report['skipped'])}")
    lines = [counts + (f" ({report['chunks_embedded']} chunks embedded in {report['seconds']:.1f} s)."
                       if report["added"] or report["updated"] else ".")]
    if report["added"]:
        lines.append("New: " + ", ".join(report["added"]))
    lines += [f"Skipped {s['file']}: {s['reason']}" for s in report["skipped"]]
    lines += [f"Note on {s['file']}: {s['reason']}" for s in report["notes"]]
    return "\n".join(lines)


def _file_path(item: Any) -> str:
    """gr.File gives paths (type='filepath'); a raw client payload may be a FileData dict."""
    if isinstance(item, dict):
        return str(item.get("path") or item.get("name") or "")
    return str(getattr(item, "path", None) or getattr(item, "name", None) or item)


def example_questions(assistant, limit: int = 5) -> list[str]:
    """Demo questions when the demo corpus is loaded; otherwise questions about the newest articles."""
    from ui.examples import DEMO_ARTICLE_ID, DEMO_QUESTIONS

    rows = assistant.articles()
    if any(a.id == DEMO_ARTICLE_ID for a in rows):
        return DEMO_QUESTIONS[:limit]
    return [f"What does the article “{a.title}” report?" for a in rows[:limit] if a.title]
