"""Event handlers as plain functions over the Assistant API, so they can be tested without a browser.

A tab's chat lives in a `ui.conversations.Session` (gr.State, on the server): questions are queued there
and answered in order, and the Chatbot's messages and the passages panel are both drawn from its turns, so
they cannot disagree. Conversations are mirrored to the browser (gr.BrowserState) as compact JSON."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.errors import UserError, user_message
from assistant.options import MODES, AskOptions, OptionError
from assistant.results import Answer, Filters
from ui import views
from ui.conversations import ChatTurn, Pending, Session, answer_plain_text

ALLOWED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_LABEL = "20 MB"
MAX_QUESTION_CHARS = 1000
ARTICLE_COLUMNS = ["Title", "Source", "Date", "Chunks", "ID"]

Message = dict[str, Any]


def _as_list(value: Any) -> list:
    return list(value) if value else []


class FieldError(UserError):
    """A form value the user must fix, naming its field (an AskOptions name or a date field) so the page
    can show the message at that field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


DATE_FIELDS = {"from": "date_from", "to": "date_to", "as of": "as_of"}
MIN_DATE, MAX_DATE = date(1800, 1, 1), date(2200, 12, 31)


def parse_date(value: str | None, label: str) -> str | None:
    """'' → None; a YYYY-MM-DD date → itself; anything else is the user's to fix."""
    field = DATE_FIELDS.get(label, label)
    if value is not None and not isinstance(value, str):
        raise FieldError(field, f"the '{label}' date must be text like 2020-06-10, not {value!r}")
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, f"the '{label}' date must look like 2020-06-10, not '{value[:40]}'") from None
    if not MIN_DATE <= parsed <= MAX_DATE:
        raise FieldError(field, f"the '{label}' date must be between {MIN_DATE} and {MAX_DATE}, not {value}")
    return parsed.isoformat()


def make_filters(sources: Sequence[str] | str | None, date_from: str | None, date_to: str | None) -> Filters:
    if isinstance(sources, str):
        sources = [sources]
    if sources is not None and not isinstance(sources, (list, tuple)):
        raise FieldError("sources", f"'sources' must be a list of source names, not {sources!r}")
    if any(not isinstance(s, str) for s in sources or ()):
        raise FieldError("sources", "'sources' must be a list of source names (text)")
    start, end = parse_date(date_from, "from"), parse_date(date_to, "to")
    if start and end and start > end:
        raise FieldError("date_to", f"the date range is empty ({start} is after {end})")
    return Filters(sources=tuple(s for s in _as_list(sources) if s), date_from=start, date_to=end)


def form_options(*, sources: Sequence[str] | str | None = None, date_from: str | None = None,
                 date_to: str | None = None, k: int | float | str | None = 5, mode: str = "hybrid",
                 max_sentences: int | float | str | None = 3, as_of: str | None = None,
                 time_aware: bool | None = True, per_article: int | float | str | None = 2) -> AskOptions:
    """A form's (or an HTTP call's) raw values as AskOptions; a value out of range is the user's to fix."""
    if not isinstance(mode, str):
        raise FieldError("mode", f"'mode' must be one of {', '.join(MODES)}, not {mode!r}")
    if time_aware is not None and not isinstance(time_aware, bool):
        raise FieldError("time_aware", f"'time_aware' must be true or false, not {time_aware!r}")
    filters = make_filters(sources, date_from, date_to)
    values = {"k": _whole(k, "k"), "max_sentences": _whole(max_sentences, "max_sentences"),
              "per_article": _whole(per_article, "per_article")}
    try:
        return AskOptions(filters=filters, mode=mode, as_of=parse_date(as_of, "as of"),
                          time_aware=time_aware is not False, **values)
    except OptionError as err:
        field = next((name for name in ("max_sentences", "per_article", "k", "mode") if f"'{name}'" in str(err)
                      or (name == "mode" and "mode" in str(err))), "form")
        raise FieldError(field, str(err)) from None


def _whole(value, name: str) -> int:
    """Sliders and JSON send floats (5.0); a whole number in any form is accepted, nothing else."""
    if isinstance(value, bool):
        raise FieldError(name, f"'{name}' must be a whole number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FieldError(name, f"'{name}' must be a whole number, not {value!r}") from None
    if not number.is_integer():
        raise FieldError(name, f"'{name}' must be a whole number, not {value!r}")
    return int(number)


def check_question(question: Any) -> str:
    """The question stripped, or the reason it cannot be asked."""
    if not isinstance(question, str):
        raise FieldError("question", f"the question must be text, not {type(question).__name__}")
    question = question.strip()
    if not question:
        raise FieldError("question", "the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise FieldError("question", f"the question is longer than {MAX_QUESTION_CHARS} characters")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in question):
        raise FieldError("question", "the question contains invalid characters (lone surrogates)")
    return question



DOUBLE_SUBMIT_SECONDS = 1.5  # the same question with the same options again within this is one submission
FORM_FIELDS = ("sources", "date_from", "date_to", "k", "mode", "max_sentences", "as_of", "time_aware")


class Events:
    """All the app's behaviour; app.py only wires these methods to components."""

    def __init__(self, assistant, local: bool = True, authenticated: bool = False):
        self.assistant = assistant
        self.local = local  # served on loopback only: whoever reaches it is on this machine
        self.authenticated = authenticated  # served with --auth: every caller has logged in

    # --- asking -----------------------------------------------------------------------------------

    def ask(self, question: Any, history: Sequence[Answer] = (), options: AskOptions | None = None) -> Answer:
        """One question against the current snapshot (the engine keeps it open until it is done)."""
        question = check_question(question)
        return self.assistant.ask(question, history=list(history), options=options or AskOptions())

    @staticmethod
    def form(*values) -> dict:
        """The Ask tab's option widgets, in FORM_FIELDS order, as form_options keywords."""
        return dict(zip(FORM_FIELDS, values, strict=False))

    @staticmethod
    def form_errors(question: Any, form: dict, check_the_question: bool = True) -> dict[str, str]:
        """{field: message} for what must be fixed before asking ({} when all is well)."""
        errors = {}
        if check_the_question and isinstance(question, str) and question.strip():
            try:
                check_question(question)
            except FieldError as err:
                errors[err.field] = str(err)
        try:
            form_options(**form)
        except FieldError as err:
            errors[err.field] = str(err)
        return errors

    def push(self, session: Session, question: str, form: dict) -> tuple:
        """First step of a turn: the question joins the session's queue and shows at once, the box clears.

        Returns (messages, stop button update); both gr.skip() for an empty question. The page's script
        has emptied the box as the question was sent (a reply clearing it could wipe the next question)."""
        if not isinstance(question, str) or not question.strip():
            return gr.skip(), gr.skip()
        text = check_question(question)
        options = form_options(**form)
        now = time.monotonic()
        with session.lock:
            last = session.last_push
            if last and last[:2] == (text, options) and now - last[2] < DOUBLE_SUBMIT_SECONDS:
                return gr.skip(), gr.skip()  # a double click or Enter + click: one question, one answer
            session.last_push = (text, options, now)
            session.pending.append(Pending(text, options, None))
            return self.messages(session), gr.update(visible=True)

    def push_all_dates(self, session: Session, form: dict) -> tuple:
        """"Search all dates": the last answered question again, its time words not used, read with the same
        earlier turns as the first time. Returns what `push` returns."""
        with session.lock:
            turns = session.current.turns
            last = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].answer is not None), None)
            if last is None:
                return gr.skip(), gr.skip()
            options = form_options(**form).but(time_aware=False)
            earlier = tuple(t.answer for t in turns[:last] if t.answer is not None)
            session.pending.append(Pending(turns[last].question, options, earlier, again=True))
            return self.messages(session), gr.update(visible=True)

    def answer(self, session: Session) -> tuple:
        """Second step: answer every waiting question of the session in order (one loop per session at a
        time); the chat and the panel are then drawn from the same turns.

        Returns (messages, panel, article, "Search all dates" update, stop update, saved conversation,
        history update); all gr.skip() when another step already answered everything."""
        answered = False
        with session.answering:
            while True:
                with session.lock:
                    if not session.pending:
                        break
                    item, epoch = session.pending[0], session.epoch
                    history = item.history if item.history is not None else tuple(session.current.answers())
                try:
                    result, error = self.ask(item.question, history, item.options), ""
                except Exception as err:  # noqa: BLE001 - one line in the chat, the app keeps going
                    result, error = None, user_message(err) or f"{type(err).__name__}: {err}"
                with session.lock:
                    if session.epoch != epoch:  # stopped, or another conversation opened meanwhile
                        continue
                    session.pending.popleft()
                    session.current.turns.append(ChatTurn(
                        item.question, result, error, item.again, item.options.time_aware,
                        item.options.as_of is not None, item.options.max_sentences))
                    session.shown_turn = len(session.current.turns) - 1
                    answered = True
        if not answered:
            return (gr.skip(),) * 7
        return self.render(session)

    def stop(self, session: Session) -> tuple:
        """The stop button: waiting questions are dropped (each says so in the chat) and an answer being
        worked out is discarded. Returns what `answer` returns."""
        with session.lock:
            session.epoch += 1
            while session.pending:
                item = session.pending.popleft()
                session.current.turns.append(ChatTurn(item.question, None, "stopped before it was answered",
                                                      item.again))
            session.shown_turn = len(session.current.turns) - 1 if session.current.turns else None
        return self.render(session)

    def messages(self, session: Session) -> list[Message]:
        """The Chatbot's messages: every turn (question, then answer or error), then the waiting questions."""
        with session.lock:
            out: list[Message] = []
            for i, t in enumerate(session.current.turns):
                out.append({"role": "user", "content": views.all_dates_message(t.question) if t.again
                            else views.user_message(t.question)})
                if t.answer is not None:
                    content = views.answer_message(t.answer, i, t.time_aware, t.explicit_as_of,
                                                   max_sentences=t.max_sentences)
                else:
                    content = views.error_message(t.error)
                out.append({"role": "assistant", "content": content})
            for item in session.pending:
                out.append({"role": "user", "content": views.all_dates_message(item.question) if item.again
                            else views.user_message(item.question)})
            return out

    def panel(self, session: Session, selected: int | None = None) -> str:
        with session.lock:
            index = session.shown_turn
            if index is None or index >= len(session.current.turns):
                return views.panel_html(None)
            t = session.current.turns[index]
            if t.answer is None:
                return views.panel_error_html(f"“{t.question}” could not be answered ({t.error}).")
            return views.panel_html(t.answer, index, selected, copy_text=answer_plain_text(t.answer))

    def render(self, session: Session) -> tuple:
        """(messages, panel, article, "Search all dates", stop, saved conversation, history list) for the
        session as it is now."""
        with session.lock:
            turns = session.current.turns
            last = turns[-1] if turns else None
            offer = bool(last and last.answer and views.time_shaped(last.answer, last.time_aware,
                                                                    last.explicit_as_of))
            return (self.messages(session), self.panel(session), views.article_placeholder(),
                    gr.update(visible=offer), gr.update(visible=bool(session.pending)),
                    session.current.to_json(), self.history_update(session))

    @staticmethod
    def history_update(session: Session):
        return gr.update(choices=session.history_choices(), value=session.current.id)

    def select(self, session: Session, key: str | None) -> tuple:
        """A passage card or an [n] marker was chosen: mark it in the panel, show its whole article.

        Returns (panel html, article html); gr.skip() for both when the key names nothing."""
        parsed = views.parse_cite_key(key)
        with session.lock:
            turns = session.current.turns
            if parsed is None or parsed[0] >= len(turns) or turns[parsed[0]].answer is None:
                return gr.skip(), gr.skip()
            index, number = parsed
            answer = turns[index].answer
            shown = views.find_shown(answer, number)
            if shown is None:
                return gr.skip(), gr.skip()
            session.shown_turn = index
            return (views.panel_html(answer, index, selected=number, copy_text=answer_plain_text(answer)),
                    self.article_view(answer, shown))

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

    # --- conversations ----------------------------------------------------------------------------

    def restore(self, session: Session, current: Any, archive: Any) -> tuple:
        """On page load: the conversations saved in this browser. Returns what `render` does, then the saved
        archive (the question box is left alone: something may be typed in it already)."""
        session.restore(current, archive)
        return (*self.render(session), session.archive_json())

    def new_conversation(self, session: Session) -> tuple:
        session.start_new()
        return self.conversation_view(session)

    def open_conversation(self, session: Session, conversation_id: str | None) -> tuple:
        if not conversation_id or conversation_id == session.current.id or not session.open(conversation_id):
            return (gr.skip(),) * 9
        return self.conversation_view(session)

    def delete_conversation(self, session: Session, conversation_id: str | None) -> tuple:
        session.delete(conversation_id or session.current.id)
        return self.conversation_view(session)

    def conversation_view(self, session: Session) -> tuple:
        """(messages, panel, article, "Search all dates", stop, saved current, history list, question box,
        saved archive): everything a switch of conversation redraws."""
        return (*self.render(session), "", session.archive_json())

    def export(self, session: Session, scope: str, fmt: str) -> str | None:
        """A Markdown or JSON file of the conversation, or of the answer the panel shows; None if empty."""
        import tempfile

        from ui.conversations import conversation_json, conversation_markdown

        with session.lock:
            conversation = session.current
            turns = conversation.turns
            if scope == EXPORT_ANSWER:
                index = session.shown_turn
                turns = turns[index:index + 1] if index is not None else []
            if not turns:
                raise gr.Error("Nothing to export yet: ask a question first.")
            text = conversation_json(conversation, turns) if fmt == "JSON" else conversation_markdown(
                conversation, turns)
        folder = Path(tempfile.mkdtemp(prefix="assistant-export-"))
        stem = "answer" if scope == EXPORT_ANSWER else "conversation"
        path = folder / f"{stem}-{conversation.id}.{'json' if fmt == 'JSON' else 'md'}"
        path.write_text(text, encoding="utf-8")
        return str(path)

    # --- evaluation -------------------------------------------------------------------------------

    def evaluate(self, source: str, path: str | None, modes: Sequence[str] | None, limit: Any,
                 time_aware: bool = True, progress: Callable | None = None, upload: Any = None) -> tuple:
        """The Evaluation tab's Run: returns (status, report markdown, recall-curve PNG path, failure rows).
        Any problem is the status alone, the other outputs cleared."""
        from ui.evaluation import run_evaluation

        outcome = run_evaluation(self.assistant, source, path, modes, limit, time_aware, progress,
                                 upload=_file_path(upload) if upload else None)
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

    def articles_table(self) -> str:
        return views.articles_table_html(self.list_articles())

    def source_choices(self) -> list[str]:
        return sorted({a.source for a in self.assistant.articles() if a.source})

    def article_choices(self) -> list[tuple[str, str]]:
        return [(f"{a.title} ({a.id})", a.id) for a in self.assistant.articles()]

    def corpus_summary(self) -> str:
        """E.g. "12 articles from 5 sources, published 2020-06-08 to 2022-07-01"."""
        rows = self.assistant.articles()
        sources = {a.source for a in rows if a.source}
        dates = sorted(a.published_at for a in rows if a.published_at)
        text = f"{len(rows)} article{'s' if len(rows) != 1 else ''}"
        if sources:
            text += f" from {len(sources)} source{'s' if len(sources) != 1 else ''}"
        if dates:
            text += f", published {dates[0]} to {dates[-1]}"
        return text

    def list_feeds(self) -> list:
        """The feeds the index has polled (index.feeds.FeedInfo), read from its database each time, so a
        `assistant watch` in another process shows up; none for a store without a folder (Milvus)."""
        from index.feeds import list_feeds

        folder = getattr(self.assistant.store, "folder", None)
        return list_feeds(folder) if folder is not None else []

    def feeds_table(self) -> str:
        return views.feeds_table_html(self.list_feeds())

    def refresh_corpus(self) -> tuple:
        """Returns (table html, source filter choices, removal choices, summary) after the corpus changed."""
        return (self.articles_table(), gr.update(choices=self.source_choices()),
                gr.update(choices=self.article_choices(), value=[]), self.corpus_summary())

    def may_replace(self, request: Any = None) -> bool:
        """Whether an upload may replace existing articles: the app is served with a login, or only on this
        machine (loopback)."""
        return self.authenticated or bool(getattr(request, "username", None)) or self.local

    def ingest(self, files: Sequence[Any] | str | None, progress: Callable | None = None, replace: bool = False,
               request: Any = None) -> tuple[str, dict]:
        """Check type and size of each upload, and that it replaces no existing article unless `replace` is
        ticked (and allowed, see may_replace); then ingest the accepted ones in one commit.

        Runs beside questions: the engine swaps in the new snapshot only after the commit.
        Returns (a message for people, the report as a dict); a failing ingest raises UserError."""
        paths = [_file_path(f) for f in ([files] if isinstance(files, (str, dict)) else _as_list(files))]
        accepted, rejected = [], []
        existing = {a.id for a in self.assistant.articles()}
        allowed = replace and self.may_replace(request)
        for path in paths:
            name = Path(path).name
            if Path(path).suffix.lower() not in ALLOWED_SUFFIXES:
                rejected.append({"file": name, "reason": f"not an accepted type (use {' '.join(ALLOWED_SUFFIXES)})"})
            elif not Path(path).is_file():
                rejected.append({"file": name, "reason": "upload not found on the server"})
            elif Path(path).stat().st_size > MAX_UPLOAD_BYTES:
                rejected.append({"file": name, "reason": f"larger than the {MAX_UPLOAD_LABEL} limit"})
            else:
                clash = sorted(_article_ids(path) & existing)
                if clash and not allowed:
                    why = ("tick “Replace existing articles” to replace it" if self.may_replace(request) else
                           "replacing articles needs an app served with --auth or on this machine only")
                    rejected.append({"file": name, "reason": f"would replace {', '.join(clash[:5])}"
                                     f"{' …' if len(clash) > 5 else ''} already in the index; {why}"})
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
                raise UserError(f"Ingest failed, the index is unchanged: {message}") from err
            report.update(added=result.added, updated=result.updated, unchanged=result.unchanged,
                          chunks_embedded=result.chunks_embedded, seconds=round(result.seconds, 2))
            report["skipped"] += [{"file": Path(p.where).name, "reason": p.reason} for p in result.skipped]
            report["notes"] = [{"file": Path(p.where).name, "reason": p.reason} for p in result.notes]
        return ingest_message(report), report

    def remove(self, article_ids: Sequence[str] | str | None, confirmed: str = "yes") -> str:
        if confirmed == "cancelled":
            return "Removal cancelled: nothing was removed."
        ids = [article_ids] if isinstance(article_ids, str) else _as_list(article_ids)
        if not ids:
            return "Nothing removed: choose the articles to remove first."
        removed, unknown = self.assistant.remove(ids)
        parts = [f"Removed {len(removed)} article(s): {', '.join(removed)}." if removed else "Nothing removed."]
        if unknown:
            parts.append(f"Not in the index: {', '.join(unknown)}.")
        return " ".join(parts)


EXPORT_CONVERSATION = "This conversation"
EXPORT_ANSWER = "The answer in Sources"


def _article_ids(path: str) -> set[str]:
    """The ids the file's articles would get (as ingest reads it); unreadable files give none."""
    from index.articles import Article
    from index.load import load_file

    try:
        return {item.id for item in load_file(Path(path)) if isinstance(item, Article)}
    except Exception:  # noqa: BLE001 - the ingest itself reports what is wrong with the file
        return set()


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
