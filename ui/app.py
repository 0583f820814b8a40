"""The Gradio app: `build_app(assistant)` wires components to ui.events; `launch()` serves it.

Public endpoints (see ui/API.md): ask, list_articles, ingest, and beside them the plain JSON
POST /api/v1/ask (ui.http_api), served by `launch()`. The browser's own events are private:
they carry UI state (chat messages, the Answer history) that means nothing to an API client, and the
Evaluation tab's run is a long job for people, not an endpoint."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr

from assistant.errors import UserError, user_message
from assistant.options import MAX_K, MAX_SENTENCES, MODES
from ui import evaluation, http_api, views
from ui.conversations import Session, answer_json
from ui.events import (
    ALLOWED_SUFFIXES,
    EXPORT_ANSWER,
    EXPORT_CONVERSATION,
    FORM_FIELDS,
    MAX_QUESTION_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_LABEL,
    Events,
    _file_path,
    example_questions,
    form_options,
)
from ui.http_api import turns_from_json
from ui.style import (
    ARTICLE_JS,
    CLOSE_SOURCES_JS,
    CONFIRM_DELETE_JS,
    CONFIRM_REMOVAL_JS,
    CSS,
    OPEN_SOURCES_JS,
    PANEL_JS,
    SEND_QUESTION_JS,
    THEME,
)
from ui.views import esc

ASK_CONCURRENCY = 4  # questions answered at once (snapshots are thread-safe); writes have their own slot
QUEUE_SIZE = 64  # questions waiting beyond those being answered, per path (Gradio queue, /api/v1/ask)
# Gradio keeps one session per browser tab and per API call without a session_hash (each holds the config of
# every component, ~0.2 MB here): the oldest beyond this are dropped (a tab's conversation is also in the
# browser). Gradio's default, 10,000, lets a day of plain-HTTP calls grow the server by gigabytes.
SESSION_CAPACITY = 1000
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
_PROGRESS = gr.Progress()
SAVED_CONVERSATION_KEY = "article-assistant-conversation"
SAVED_ARCHIVE_KEY = "article-assistant-archive"
SAVED_REPORT_KEY = "article-assistant-eval-report"


def build_app(assistant, examples: list[str] | None = None, local: bool = True, authenticated: bool = False,
              secret: str | None = None) -> gr.Blocks:
    """The whole UI for one Assistant. Component elem_ids are stable: tests and ui/API.md use them.

    local: served on loopback only; authenticated: served with a login (both allow replacing articles by
    upload when the uploader asks for it). secret: the key the browser's saved conversations are encrypted
    with (default: one kept in the cache folder, so they survive a restart of the app)."""
    events = Events(assistant, local=local, authenticated=authenticated)
    examples = example_questions(assistant) if examples is None else examples
    secret = secret or browser_secret()
    with gr.Blocks(title="Article Assistant", analytics_enabled=False) as app:
        state = SimpleNamespace(
            session=gr.State(Session()),  # this tab's conversations and questions (server side; copied fresh per tab)
            saved=gr.BrowserState(None, storage_key=SAVED_CONVERSATION_KEY, secret=secret),
            archive=gr.BrowserState([], storage_key=SAVED_ARCHIVE_KEY, secret=secret),
            report=gr.BrowserState(None, storage_key=SAVED_REPORT_KEY, secret=secret))
        gr.HTML(header_html(events.corpus_summary()), elem_id="app-header")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Ask", id="ask", elem_id="tab-ask"):
                ask = _ask_tab(events, examples)
            with gr.Tab("Corpus", id="corpus", elem_id="tab-corpus") as corpus_tab:
                corpus = _corpus_tab(events)
            with gr.Tab("Evaluation", id="evaluation", elem_id="tab-evaluation"):
                evaluate = _evaluation_tab()
        corpus.tab = corpus_tab
        _wire_chat(events, ask, state, app)
        _wire_corpus(events, corpus, ask)
        _wire_evaluation(events, evaluate, state, app)
        _api(events)
    app.lean_api = http_api.router(events, workers=ASK_CONCURRENCY, waiting=QUEUE_SIZE)  # served by launch()
    return app


def header_html(summary: str) -> str:
    return ('<header><h1>Article Assistant</h1><p>Answers are sentences quoted from the articles; each [n] opens '
            f'its source.</p><p class="corpus-line" id="corpus-line">In the index: {esc(summary)}</p></header>')


def browser_secret() -> str:
    """The key of the browser's saved conversations, kept in the cache folder (created once)."""
    import secrets

    from index.demo import cache_home

    path = cache_home() / "browser-state.key"
    try:
        text = path.read_text().strip()
        if len(text) >= 16:
            return text
        path.parent.mkdir(parents=True, exist_ok=True)
        text = secrets.token_hex(16)
        path.write_text(text)
        path.chmod(0o600)
        return text
    except OSError:
        return secrets.token_hex(16)  # conversations then last until the app restarts


def _ask_tab(events: Events, examples: list[str]) -> SimpleNamespace:
    """Chat, question box and options on the left; the cited passages and the article on the right (on a
    phone: a drawer over the lower part of the screen, opened by an [n] or the Sources button)."""
    c = SimpleNamespace()
    with gr.Row(equal_height=False, elem_id="ask-row"):
        with gr.Column(scale=5, min_width=300, elem_id="chat-column"):
            with gr.Row(equal_height=True, elem_id="conversation-bar"):
                c.history = gr.Dropdown([], value=None, label="Conversation", elem_id="history", scale=4,
                                        min_width=160, allow_custom_value=False, interactive=True)
                c.new_button = gr.Button("New", elem_id="new-conversation", scale=0, min_width=70, size="sm")
                c.delete_button = gr.Button("Delete", elem_id="delete-conversation", scale=0, min_width=70,
                                            size="sm")
            c.delete_confirmed = gr.Textbox("yes", visible=False, elem_id="delete-confirmed")
            c.chat = gr.Chatbot(
                elem_id="chat", label="Conversation", show_label=False, height=480, render_markdown=True,
                sanitize_html=True, allow_tags=False, latex_delimiters=[], feedback_options=None,
                group_consecutive_messages=False, buttons=[], placeholder="Ask a question about the articles "
                "in the index.",
            )
            # Offered when dates shaped the last answer: ask it again with the question's time words ignored.
            c.all_dates = gr.Button("Search all dates", visible=False, size="sm", elem_id="search-all-dates")
            with gr.Row(equal_height=True, elem_id="ask-bar"):
                c.question = gr.Textbox(elem_id="question", label="Question", show_label=False, scale=6,
                                        max_length=MAX_QUESTION_CHARS, lines=1, max_lines=6,
                                        placeholder="Ask a question, or a follow-up such as “And Amazon?”")
                c.ask_button = gr.Button("Ask", variant="primary", elem_id="ask-button", scale=0, min_width=70)
                c.stop_button = gr.Button("Stop", variant="stop", elem_id="stop-button", scale=0, min_width=70,
                                          visible=False)
            c.open_sources = gr.Button("Sources", elem_id="open-sources", size="sm", elem_classes=["narrow-only"])
            c.examples = []
            if examples:
                with gr.Column(elem_id="examples"):
                    gr.HTML('<h2 class="examples-title">Example questions</h2>', elem_id="examples-title")
                    for i, text in enumerate(examples):
                        c.examples.append(gr.Button(text, size="sm", elem_id=f"example-{i}",
                                                    elem_classes=["example"]))
            _options(events, c)
            with gr.Accordion("Export", open=False, elem_id="export"):
                with gr.Row(equal_height=True):
                    c.export_scope = gr.Radio([EXPORT_CONVERSATION, EXPORT_ANSWER], value=EXPORT_CONVERSATION,
                                              label="What", elem_id="export-scope")
                    c.export_format = gr.Radio(["Markdown", "JSON"], value="Markdown", label="Format",
                                               elem_id="export-format")
                c.export_button = gr.Button("Export", elem_id="export-button", size="sm")
                c.export_file = gr.File(label="Exported file", interactive=False, elem_id="export-file",
                                        visible=False)
        with gr.Column(scale=4, min_width=300, elem_id="sources-column"):
            c.close_sources = gr.Button("Back to the conversation", elem_id="close-sources", size="sm",
                                        elem_classes=["narrow-only"])
            c.panel = gr.HTML(views.panel_html(None), elem_id="passages", js_on_load=PANEL_JS, max_height=440)
            c.article = gr.HTML(views.article_placeholder(), elem_id="article-view", js_on_load=ARTICLE_JS)
    return c


def _options(events: Events, c: SimpleNamespace) -> None:
    with gr.Accordion("Filters and answer options", open=False, elem_id="options"):
        c.sources = gr.Dropdown(events.source_choices(), value=[], multiselect=True,
                                label="Sources (none chosen: all)", elem_id="filter-sources")
        with gr.Row():
            c.date_from = gr.Textbox(label="Published from (YYYY-MM-DD)", placeholder="e.g. 2020-06-01",
                                     elem_id="filter-from", max_length=10)
            c.date_to = gr.Textbox(label="Published to (YYYY-MM-DD)", placeholder="e.g. 2020-06-30",
                                   elem_id="filter-to", max_length=10)
        with gr.Row(equal_height=True):
            c.as_of = gr.Textbox(label="As of (YYYY-MM-DD)", placeholder="empty: today or the newest article",
                                 elem_id="as-of", max_length=10, scale=2,
                                 info="the date questions are asked at (“last week”)")
            c.time_aware = gr.Checkbox(True, label="Use dates in questions", elem_id="time-aware", scale=1,
                                       info="“in June 2020”, “latest”: a date window or a preference")
        with gr.Row():
            c.k = gr.Slider(1, MAX_K, value=5, step=1, label="Passages to search and cite", elem_id="passages-k",
                            info=f"1 to {MAX_K}")
            c.length = gr.Slider(1, MAX_SENTENCES, value=3, step=1, label="Answer length (sentences, at most)",
                                 elem_id="answer-length",
                                 info="fewer when the other sentences found are much weaker matches or repeat "
                                      "these; the answer then says so")
        c.mode = gr.Radio(list(MODES), value="hybrid", label="Retrieval", elem_id="mode",
                          info="hybrid: meaning and keywords; dense: meaning only; keyword: BM25 only")
    c.form = [c.sources, c.date_from, c.date_to, c.k, c.mode, c.length, c.as_of, c.time_aware]


def _corpus_tab(events: Events) -> SimpleNamespace:
    c = SimpleNamespace()
    c.summary = gr.Textbox(events.corpus_summary(), label="Index", interactive=False, elem_id="corpus-summary")
    c.table = gr.HTML(events.articles_table(), elem_id="articles-table", max_height=460)
    c.feeds = gr.HTML(events.feeds_table(), elem_id="feeds-table", max_height=240)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            c.upload = gr.File(label=f"Add articles ({' '.join(ALLOWED_SUFFIXES)}; up to {MAX_UPLOAD_LABEL} each)",
                               file_count="multiple", elem_id="upload")
            c.replace = gr.Checkbox(False, label="Replace existing articles", elem_id="upload-replace",
                                    info="an upload whose article id is already in the index replaces it only "
                                         "when this is ticked (and the app runs with a login or on this "
                                         "machine only)")
        c.status = gr.Textbox(label="Status", interactive=False, lines=5, elem_id="corpus-status", scale=2)
    c.report = gr.JSON(visible=False, elem_id="ingest-report")
    # The /ingest endpoint for API clients: the same work, its refusals raised (see ui/API.md).
    c.api_files = gr.File(file_count="multiple", file_types=list(ALLOWED_SUFFIXES), visible=False,
                          elem_id="api-ingest-files")
    c.api_status = gr.Textbox(visible=False)
    with gr.Row(equal_height=False):
        c.to_remove = gr.Dropdown(events.article_choices(), value=[], multiselect=True, scale=4,
                                  label="Remove articles from the index", elem_id="remove-select")
        with gr.Column(scale=1, min_width=160):
            c.remove_button = gr.Button("Remove", variant="stop", elem_id="remove-button")
            c.refresh_button = gr.Button("Refresh list", elem_id="refresh-corpus", size="sm")
    c.remove_confirmed = gr.Textbox("yes", visible=False, elem_id="remove-confirmed")
    return c


def _evaluation_tab() -> SimpleNamespace:
    """Pick a question set (bundled, uploaded or synthetic), run, read the table, curve and failures."""
    c = SimpleNamespace()
    gr.Markdown("Measures retrieval and answers on questions about the articles in **this index**: a questions "
                "file (JSONL: question, answer, evidence article ids), or known-item questions drawn from the "
                "index itself. Datasets with their own articles need their own index: `assistant eval DATASET`.",
                elem_id="eval-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            c.source = gr.Radio(list(evaluation.SOURCES), value=evaluation.SOURCE_FILE, label="Questions",
                                elem_id="eval-source")
            c.path = gr.Dropdown(evaluation.bundled_sets(), value=evaluation.DEMO_DATASET.name,
                                 label="Bundled question set", elem_id="eval-dataset",
                                 info="demo_questions.jsonl: about the bundled demo corpus")
            c.upload = gr.File(label=f"Questions file (.jsonl, up to {evaluation.MAX_QUESTIONS_LABEL})",
                               file_count="single", elem_id="eval-upload", visible=False)
        with gr.Column(scale=2):
            c.modes = gr.CheckboxGroup(list(MODES), value=["dense", "keyword", "hybrid"], label="Retrieval modes",
                                       elem_id="eval-modes")
            with gr.Row():
                c.limit = gr.Textbox("all", label="Questions to run", elem_id="eval-limit", max_length=6,
                                     info="a number, or “all”")
                c.time_aware = gr.Checkbox(True, label="Use question dates", elem_id="eval-time-aware",
                                           info="each question's date as “as of”, and its time words")
            with gr.Row():
                c.run = gr.Button("Run evaluation", variant="primary", elem_id="eval-run")
                c.stop = gr.Button("Stop", variant="stop", elem_id="eval-stop", visible=False)
    c.status = gr.Textbox(label="Status", interactive=False, lines=3, elem_id="eval-status")
    with gr.Row(equal_height=False):
        c.report = gr.Markdown(elem_id="eval-report", max_height=480, sanitize_html=True)
        c.plot = gr.Image(label="Recall@k", type="filepath", format="png", interactive=False, elem_id="eval-plot",
                          buttons=["download"], height=360)
    c.failures = gr.Dataframe(headers=evaluation.FAILURE_COLUMNS, value=[], interactive=False, wrap=True,
                              datatype=["str"] * len(evaluation.FAILURE_COLUMNS), max_height=420,
                              column_widths=["8%", "22%", "12%", "12%", "8%", "26%", "12%"],
                              label="Failures (gold article not in the top 5, expected answer missing, "
                                    "or a wrong abstention)", elem_id="eval-failures")
    return c


def _wire_chat(events: Events, c: SimpleNamespace, state: SimpleNamespace, app: gr.Blocks) -> None:
    """Show the question at once (queued in the session), then answer every waiting question in order."""
    session = state.session
    answered = [c.chat, c.panel, c.article, c.all_dates, c.stop_button, state.saved, c.history]
    view = [*answered, c.question, state.archive]
    pushed = [c.chat, c.stop_button]

    def validate(question, _session, *values):
        """Errors at their field, before anything is asked (Gradio shows each under its input)."""
        errors = events.form_errors(question, events.form(*values))
        names = ("question", "session", *FORM_FIELDS)
        return [gr.validate(name not in errors, errors.get(name, "")) for name in names]

    def push(question, session_, *values):
        return events.push(session_, question, events.form(*values))

    def push_all_dates(session_, *values):
        return events.push_all_dates(session_, events.form(*values))

    def validate_all_dates(_session, *values):
        errors = events.form_errors("", events.form(*values))
        return [gr.validate(name not in errors, errors.get(name, "")) for name in ("session", *FORM_FIELDS)]

    answers = []
    for triggers, inputs, js in [([c.question.submit, c.ask_button.click], c.question, SEND_QUESTION_JS),
                                 *[([b.click], b, None) for b in c.examples]]:
        pushing = gr.on(triggers, push, [inputs, session, *c.form], pushed, validator=validate, js=js,
                        concurrency_id="push", concurrency_limit=1, show_progress="hidden", trigger_mode="multiple",
                        **PRIVATE)
        # "always_last": a push while an answer is running triggers one more answering pass after it, so a
        # question queued as the running pass finishes is still answered.
        answers.append(pushing.then(events.answer, [session], answered, concurrency_id="ask",
                                    concurrency_limit=ASK_CONCURRENCY, show_progress="minimal",
                                    trigger_mode="always_last", **PRIVATE))
    again = c.all_dates.click(push_all_dates, [session, *c.form], pushed, validator=validate_all_dates,
                              concurrency_id="push", concurrency_limit=1, show_progress="hidden", **PRIVATE)
    answers.append(again.then(events.answer, [session], answered, concurrency_id="ask",
                              concurrency_limit=ASK_CONCURRENCY, show_progress="minimal", trigger_mode="always_last",
                              **PRIVATE))
    c.stop_button.click(events.stop, [session], answered, cancels=answers, queue=False, **PRIVATE)

    # Pushes go one at a time (each takes a millisecond), so questions queue in the order they were sent.
    app.load(events.restore, [session, state.saved, state.archive], answered + [state.archive], queue=False,
             **PRIVATE)
    c.new_button.click(events.new_conversation, [session], view, queue=False, **PRIVATE)
    c.history.input(events.open_conversation, [session, c.history], view, queue=False, **PRIVATE)

    def delete(session_, confirmed):
        if confirmed == "cancelled":
            gr.Info("Deletion cancelled: the conversation is kept.")
            return (gr.skip(),) * len(view)
        return events.delete_conversation(session_, session_.current.id)

    c.delete_button.click(delete, [session, c.delete_confirmed], view, queue=False, js=CONFIRM_DELETE_JS, **PRIVATE)

    def open_cited(session_, evt: gr.EventData):
        """A card or an [n] marker was clicked; the panel's script sent {cite: '<turn>-<n>'}."""
        return events.select(session_, (evt._data or {}).get("cite"))

    c.panel.click(open_cited, [session], [c.panel, c.article], show_progress="hidden", **PRIVATE)
    c.open_sources.click(None, js=OPEN_SOURCES_JS)
    c.close_sources.click(None, js=CLOSE_SOURCES_JS)

    def export(session_, scope, fmt):
        return gr.update(value=events.export(session_, scope, fmt), visible=True)

    c.export_button.click(export, [session, c.export_scope, c.export_format], [c.export_file], **PRIVATE)


def _wire_corpus(events: Events, c: SimpleNamespace, ask: SimpleNamespace) -> None:
    outputs = [c.table, ask.sources, c.to_remove, c.summary]

    def ingest_upload(files: list[str] | None, replace: bool, request: gr.Request, progress=_PROGRESS) -> tuple:
        """Add uploaded files to the index (one commit); questions keep running meanwhile. A refusal or a
        failure is the status line, never a bare error badge."""
        try:
            return events.ingest(files, progress, replace=replace, request=request)
        except UserError as err:
            return str(err), {}

    def ingest_api(files: list[str] | None, request: gr.Request, progress=_PROGRESS) -> tuple:
        try:
            return events.ingest(files, progress, request=request)
        except UserError as err:
            raise gr.Error(str(err)) from err

    def refresh_and_clear() -> tuple:
        return (*events.refresh_corpus(), None)

    # The ingest runs in its own queue slot ("write"), so questions are never queued behind it.
    c.upload.upload(ingest_upload, [c.upload, c.replace], [c.status, c.report], concurrency_id="write",
                    concurrency_limit=1, **PRIVATE).then(refresh_and_clear, None, [*outputs, c.upload], **PRIVATE)
    c.api_files.upload(ingest_api, [c.api_files], [c.api_status, c.report], api_name="ingest",
                       concurrency_id="write", concurrency_limit=1).then(events.refresh_corpus, None, outputs,
                                                                         **PRIVATE)
    c.remove_button.click(events.remove, [c.to_remove, c.remove_confirmed], [c.status], concurrency_id="write",
                          concurrency_limit=1, js=CONFIRM_REMOVAL_JS, **PRIVATE).then(
        events.refresh_corpus, None, outputs, **PRIVATE)
    gr.on([c.refresh_button.click, c.tab.select], events.refresh_corpus, None, outputs, **PRIVATE)
    gr.on([c.refresh_button.click, c.tab.select], events.feeds_table, None, [c.feeds], **PRIVATE)


def _wire_evaluation(events: Events, c: SimpleNamespace, state: SimpleNamespace, app: gr.Blocks) -> None:
    outputs = [c.status, c.report, c.plot, c.failures]

    def run(source: str, path: str, upload, modes: list[str], limit, time_aware: bool, progress=_PROGRESS):
        """One evaluation at a time, beside questions (its own queue slot); problems come back as the status.
        The report is saved in the browser until the next run replaces it."""
        from ui.evaluation import run_evaluation, saved_report

        outcome = run_evaluation(events.assistant, source, path, modes, limit, time_aware, progress,
                                 upload=_file_path(upload) if upload else None)
        return (outcome.message, outcome.report_md, outcome.plot, outcome.failures, saved_report(outcome),
                gr.update(visible=False))

    def show_source(source: str):
        return (gr.update(visible=source == evaluation.SOURCE_FILE),
                gr.update(visible=source == evaluation.SOURCE_UPLOAD))

    def running():
        return gr.update(visible=True), "Running…"

    def stopped():
        return gr.update(visible=False), "Stopped: the evaluation was cancelled and no report was written."

    c.source.change(show_source, [c.source], [c.path, c.upload], queue=False, **PRIVATE)
    started = c.run.click(running, None, [c.stop, c.status], queue=False, **PRIVATE)
    job = started.then(run, [c.source, c.path, c.upload, c.modes, c.limit, c.time_aware],
                       [*outputs, state.report, c.stop], concurrency_id="eval", concurrency_limit=1, **PRIVATE)
    c.stop.click(stopped, None, [c.stop, c.status], cancels=[job], queue=False, **PRIVATE)
    app.load(evaluation.restore_report, [state.report], outputs, queue=False, **PRIVATE)


def _api(events: Events) -> None:
    """Endpoints for gradio_client, typed through their signatures."""

    def ask(question: str, history: list[dict | str] | None = None, sources: list[str] | None = None,
            date_from: str | None = None, date_to: str | None = None, k: int = 5, mode: str = "hybrid",
            max_sentences: int = 3, as_of: str | None = None, time_aware: bool = True,
            per_article: int = 2, full_ranking: bool = False) -> dict:
        """Answer a question with citations. history: earlier results of this endpoint (or earlier
        questions as strings), oldest first, for follow-ups. as_of: the date the question is asked at
        (YYYY-MM-DD; default today, or the newest article's date for an archive); time_aware=False ignores
        the question's time words; per_article caps passages from one article (0: no cap). Returns the
        Answer as JSON: `passages` are the k passages it was drawn from; full_ranking=True returns every
        fused passage instead (and `shown`). Every refusal carries its reason."""
        try:
            options = form_options(sources=sources, date_from=date_from, date_to=date_to, k=k, mode=mode,
                                   max_sentences=max_sentences, as_of=as_of, time_aware=time_aware,
                                   per_article=per_article)
            if not isinstance(full_ranking, bool):
                raise UserError(f"'full_ranking' must be true or false, not {full_ranking!r}")
            result = events.ask(question, turns_from_json(history), options)
        except UserError as err:
            raise gr.Error(str(err)) from err
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001 - the caller gets the reason, not a bare error
            raise gr.Error(user_message(err) or f"the question could not be answered ({type(err).__name__}: "
                           f"{err})") from err
        return answer_json(result, full_ranking=full_ranking)

    def list_articles() -> list[dict]:
        """The articles in the index, newest first: id, title, source, published_at, url, authors, chunks."""
        return events.list_articles()

    gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY)
    gr.api(list_articles, api_name="list_articles", concurrency_limit=None)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int | None = None,
           auth: list[tuple[str, str]] | None = None, share: bool = False, prevent_thread_lock: bool = False,
           quiet: bool = False):
    """Serve on host:port (this machine only by default) with the upload limit, queue and look applied."""
    app.queue(max_size=QUEUE_SIZE)
    lean = getattr(app, "lean_api", None)
    return app.launch(
        server_name=host, server_port=port, auth=auth or None, share=share, prevent_thread_lock=prevent_thread_lock,
        quiet=quiet, max_file_size=MAX_UPLOAD_BYTES, theme=THEME, css=CSS, ssr_mode=False, show_error=True,
        footer_links=["api", "settings"], mcp_server=False,
        auth_message="Sign in to use this Article Assistant." if auth else None,
        state_session_capacity=SESSION_CAPACITY,
        app_kwargs={"routes": list(lean.routes)} if lean is not None else None,  # POST /api/v1/ask
    )

