"""The Gradio app: `build_app(assistant)` wires components to ui.events; `launch()` serves it.

Public endpoints (see ui/API.md): ask, list_articles, ingest. The browser's own events are private:
they carry UI state (chat messages, the Answer history) that means nothing to an API client, and the
Evaluation tab's run is a long job for people, not an endpoint."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr

from assistant.converse import Turn
from assistant.errors import UserError
from assistant.options import MODES
from ui import evaluation, views
from ui.events import (
    ALLOWED_SUFFIXES,
    ARTICLE_COLUMNS,
    MAX_QUESTION_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_LABEL,
    Events,
    example_questions,
    form_options,
)
from ui.style import ARTICLE_JS, CONFIRM_REMOVAL_JS, CSS, PANEL_JS, THEME

ASK_CONCURRENCY = 4  # questions answered at once; ingest and removal have their own queue slot
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
_PROGRESS = gr.Progress()


def build_app(assistant, examples: list[str] | None = None) -> gr.Blocks:
    """The whole UI for one Assistant. Component elem_ids are stable: tests and ui/API.md use them."""
    events = Events(assistant)
    examples = example_questions(assistant) if examples is None else examples
    with gr.Blocks(title="Article Assistant", analytics_enabled=False) as app:
        state = SimpleNamespace(answers=gr.State([]),  # the Answer objects of this conversation, oldest first
                                pending=gr.State(""))  # the question between showing it and answering it
        gr.Markdown("## Article Assistant\nAnswers are sentences quoted from the articles; each [n] opens its "
                    "source.", elem_id="app-header")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Ask", id="ask", elem_id="tab-ask"):
                ask = _ask_tab(events, examples)
            with gr.Tab("Corpus", id="corpus", elem_id="tab-corpus") as corpus_tab:
                corpus = _corpus_tab(events)
            with gr.Tab("Evaluation", id="evaluation", elem_id="tab-evaluation"):
                evaluate = _evaluation_tab()
        corpus.tab = corpus_tab
        _wire_chat(events, ask, state)
        _wire_corpus(events, corpus, ask)
        _wire_evaluation(events, evaluate)
        _api(events)
    return app


def _ask_tab(events: Events, examples: list[str]) -> SimpleNamespace:
    """Chat, question box and options on the left; the cited passages and the article on the right."""
    c = SimpleNamespace()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=360):
            c.chat = gr.Chatbot(
                elem_id="chat", label="Conversation", height=500, render_markdown=True, sanitize_html=True,
                allow_tags=False, latex_delimiters=[], feedback_options=None, group_consecutive_messages=False,
                buttons=["copy"], placeholder="Ask a question about the articles in the index.",
            )
            # Offered when dates shaped the last answer: ask it again with the question's time words ignored.
            c.all_dates = gr.Button("Search all dates", visible=False, size="sm", elem_id="search-all-dates")
            with gr.Row(equal_height=True):
                c.question = gr.Textbox(elem_id="question", show_label=False, scale=6, max_length=MAX_QUESTION_CHARS,
                                        placeholder="Ask a question, or a follow-up such as “And Amazon?”")
                c.ask_button = gr.Button("Ask", variant="primary", elem_id="ask-button", scale=1, min_width=80)
                c.new_button = gr.Button("New conversation", elem_id="new-conversation", scale=1, min_width=120)
            if examples:
                gr.Examples([[q] for q in examples], inputs=[c.question], label="Example questions",
                            elem_id="examples")
            _options(events, c)
        with gr.Column(scale=4, min_width=320):
            c.panel = gr.HTML(views.panel_html(None), elem_id="passages", js_on_load=PANEL_JS, max_height=440)
            c.article = gr.HTML(views.article_placeholder(), elem_id="article-view", js_on_load=ARTICLE_JS)
    return c


def _options(events: Events, c: SimpleNamespace) -> None:
    with gr.Accordion("Filters and answer options", open=False, elem_id="options"):
        c.sources = gr.Dropdown(events.source_choices(), value=[], multiselect=True,
                                label="Sources (none chosen: all)", elem_id="filter-sources")
        with gr.Row():
            c.date_from = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", elem_id="filter-from",
                                     max_length=10)
            c.date_to = gr.Textbox(label="Published to", placeholder="YYYY-MM-DD", elem_id="filter-to",
                                   max_length=10)
        with gr.Row(equal_height=True):
            c.as_of = gr.Textbox(label="As of", placeholder="YYYY-MM-DD", elem_id="as-of", max_length=10, scale=2,
                                 info="the date questions are asked at (“last week”); empty: today, or the "
                                      "newest article's date")
            c.time_aware = gr.Checkbox(True, label="Use dates in questions", elem_id="time-aware", scale=1,
                                       info="“in June 2020”, “latest”: a date window or a preference")
        with gr.Row():
            c.k = gr.Slider(1, 10, value=5, step=1, label="Passages to search and cite", elem_id="passages-k")
            c.length = gr.Slider(1, 6, value=3, step=1, label="Answer length (sentences)", elem_id="answer-length")
        c.mode = gr.Radio(list(MODES), value="hybrid", label="Retrieval", elem_id="mode",
                          info="hybrid: meaning and keywords; dense: meaning only; keyword: BM25 only")


def _corpus_tab(events: Events) -> SimpleNamespace:
    c = SimpleNamespace()
    c.summary = gr.Textbox(events.corpus_summary(), label="Index", interactive=False, elem_id="corpus-summary")
    c.table = gr.Dataframe(events.article_rows(), headers=ARTICLE_COLUMNS, interactive=False, wrap=True,
                           datatype=["str", "str", "str", "number", "str"], max_height=420,
                           column_widths=["46%", "16%", "11%", "7%", "20%"],
                           elem_id="articles-table", label="Articles")
    with gr.Row(equal_height=False):
        c.upload = gr.File(label=f"Add articles ({' '.join(ALLOWED_SUFFIXES)}; up to {MAX_UPLOAD_LABEL} each)",
                           file_count="multiple", file_types=list(ALLOWED_SUFFIXES), elem_id="upload")
        c.status = gr.Textbox(label="Status", interactive=False, lines=5, elem_id="corpus-status")
    c.report = gr.JSON(visible=False, elem_id="ingest-report")
    with gr.Row(equal_height=False):
        c.to_remove = gr.Dropdown(events.article_choices(), value=[], multiselect=True, scale=4,
                                  label="Remove articles from the index", elem_id="remove-select")
        with gr.Column(scale=1, min_width=160):
            c.remove_button = gr.Button("Remove", variant="stop", elem_id="remove-button")
            c.refresh_button = gr.Button("Refresh list", elem_id="refresh-corpus", size="sm")
    return c


def _evaluation_tab() -> SimpleNamespace:
    """Pick a dataset, run, read the table, the recall curve and the failed questions."""
    c = SimpleNamespace()
    gr.Markdown("Measures retrieval and answers on questions about the articles in **this index**: a questions "
                "file (JSONL: question, answer, evidence article ids), or known-item questions drawn from the "
                "index itself. Datasets with their own articles need their own index: `assistant eval DATASET`.",
                elem_id="eval-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            c.source = gr.Radio(list(evaluation.SOURCES), value=evaluation.SOURCE_FILE, label="Questions",
                                elem_id="eval-source")
            c.path = gr.Textbox(str(evaluation.DEMO_DATASET), label="Questions file (on the server)",
                                elem_id="eval-dataset", info="default: the questions about the bundled demo corpus")
        with gr.Column(scale=2):
            c.modes = gr.CheckboxGroup(list(MODES), value=["dense", "keyword", "hybrid"], label="Retrieval modes",
                                       elem_id="eval-modes")
            with gr.Row():
                c.limit = gr.Number(None, label="Question limit (empty: all)", precision=0, minimum=0,
                                    elem_id="eval-limit")
                c.time_aware = gr.Checkbox(True, label="Use question dates", elem_id="eval-time-aware",
                                           info="each question's date as “as of”, and its time words")
            c.run = gr.Button("Run evaluation", variant="primary", elem_id="eval-run")
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


def _wire_chat(events: Events, c: SimpleNamespace, state: SimpleNamespace) -> None:
    """Show the question at once, then answer (the slow step, with its own concurrency slot)."""
    options = [c.sources, c.date_from, c.date_to, c.k, c.mode, c.length, c.as_of]
    answered = [c.chat, state.answers, c.panel, c.article, c.all_dates]

    def push_question(question: str, messages: list) -> tuple:
        """The question shows at once; "Search all dates" hides until its answer says whether it applies."""
        messages, box, pending = events.push_question(question, messages)
        return messages, box, pending, gr.update(visible=False) if pending else gr.skip()

    gr.on([c.question.submit, c.ask_button.click], push_question, [c.question, c.chat],
          [c.chat, c.question, state.pending, c.all_dates], queue=False, **PRIVATE).then(
        events.answer, [state.pending, c.chat, state.answers, *options, c.time_aware], answered,
        concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY, show_progress="minimal", **PRIVATE)
    c.all_dates.click(events.push_all_dates, [c.chat, state.answers], [c.chat, c.all_dates], queue=False,
                      **PRIVATE).then(
        events.answer_all_dates, [c.chat, state.answers, *options], answered, concurrency_id="ask",
        concurrency_limit=ASK_CONCURRENCY, show_progress="minimal", **PRIVATE)
    # The Chatbot's own clear (bin) button starts a new conversation too, so the history never outlives the chat.
    gr.on([c.new_button.click, c.chat.clear], events.new_conversation, None,
          [c.chat, state.answers, c.panel, c.article, c.question, c.all_dates], queue=False, **PRIVATE)

    def open_cited(history: list, evt: gr.EventData):
        """A card or an [n] marker was clicked; the panel's script sent {cite: '<turn>-<n>'}."""
        return events.select(history, (evt._data or {}).get("cite"))

    c.panel.click(open_cited, [state.answers], [c.panel, c.article], show_progress="hidden", **PRIVATE)


def _wire_corpus(events: Events, c: SimpleNamespace, ask: SimpleNamespace) -> None:
    outputs = [c.table, ask.sources, c.to_remove, c.summary]

    def ingest(files: list[str] | None, progress=_PROGRESS) -> tuple[str, dict]:
        """Add uploaded files to the index (one commit); questions keep running meanwhile."""
        return events.ingest(files, progress)

    def refresh_and_clear() -> tuple:
        return (*events.refresh_corpus(), None)

    # The ingest runs in its own queue slot ("write"), so questions are never queued behind it.
    c.upload.upload(ingest, [c.upload], [c.status, c.report], api_name="ingest", concurrency_id="write",
                    concurrency_limit=1).then(refresh_and_clear, None, [*outputs, c.upload], **PRIVATE)
    c.remove_button.click(events.remove, [c.to_remove], [c.status], concurrency_id="write", concurrency_limit=1,
                          js=CONFIRM_REMOVAL_JS, **PRIVATE).then(events.refresh_corpus, None, outputs, **PRIVATE)
    gr.on([c.refresh_button.click, c.tab.select], events.refresh_corpus, None, outputs, **PRIVATE)


def _wire_evaluation(events: Events, c: SimpleNamespace) -> None:
    def run(source: str, path: str, modes: list[str], limit: float | None, time_aware: bool,
            progress=_PROGRESS) -> tuple:
        """One evaluation at a time, beside questions (its own queue slot); problems come back as the status."""
        return events.evaluate(source, path, modes, limit, time_aware, progress)

    def show_path(source: str):
        return gr.update(interactive=source == evaluation.SOURCE_FILE)

    c.source.change(show_path, [c.source], [c.path], queue=False, **PRIVATE)
    c.run.click(run, [c.source, c.path, c.modes, c.limit, c.time_aware], [c.status, c.report, c.plot, c.failures],
                concurrency_id="eval", concurrency_limit=1, **PRIVATE)


def _api(events: Events) -> None:
    """Endpoints for gradio_client, typed through their signatures."""

    def ask(question: str, history: list[dict | str] | None = None, sources: list[str] | None = None,
            date_from: str | None = None, date_to: str | None = None, k: int = 5, mode: str = "hybrid",
            max_sentences: int = 3, as_of: str | None = None, time_aware: bool = True,
            per_article: int = 2) -> dict:
        """Answer a question with citations. history: earlier results of this endpoint (or earlier
        questions as strings), oldest first, for follow-ups. as_of: the date the question is asked at
        (YYYY-MM-DD; default today, or the newest article's date for an archive); time_aware=False ignores
        the question's time words; per_article caps passages from one article (0: no cap). Returns the
        Answer as JSON (its as_of and time_note say what was used)."""
        try:
            options = form_options(sources=sources, date_from=date_from, date_to=date_to, k=k, mode=mode,
                                   max_sentences=max_sentences, as_of=as_of, time_aware=time_aware,
                                   per_article=per_article)
            result = events.ask(question, turns_from_json(history), options)
        except UserError as err:
            raise gr.Error(str(err)) from err
        return result.to_dict()

    def list_articles() -> list[dict]:
        """The articles in the index, newest first: id, title, source, published_at, url, authors, chunks."""
        return events.list_articles()

    gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=ASK_CONCURRENCY)
    gr.api(list_articles, api_name="list_articles", concurrency_limit=None)


def turns_from_json(history: list[dict | str] | None) -> list[Turn | str]:
    """Earlier /ask results (dicts) as the engine's conversation turns; strings are earlier questions."""
    turns: list[Turn | str] = []
    for item in history or []:
        if isinstance(item, str):
            turns.append(item)
        elif isinstance(item, dict) and item.get("question"):
            turns.append(Turn.from_dict(item))  # with the sentences it showed, so follow-ups show new ones
        else:
            raise gr.Error("history items must be earlier /ask results (objects) or earlier questions (strings)")
    return turns


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int | None = None,
           auth: list[tuple[str, str]] | None = None, share: bool = False, prevent_thread_lock: bool = False,
           quiet: bool = False):
    """Serve on host:port (this machine only by default) with the upload limit, queue and look applied."""
    app.queue(max_size=64)
    return app.launch(
        server_name=host, server_port=port, auth=auth or None, share=share, prevent_thread_lock=prevent_thread_lock,
        quiet=quiet, max_file_size=MAX_UPLOAD_BYTES, theme=THEME, css=CSS, ssr_mode=False, show_error=False,
        footer_links=["api", "settings"], mcp_server=False,
        auth_message="Sign in to use this Article Assistant." if auth else None,
    )

