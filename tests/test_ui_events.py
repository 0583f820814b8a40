"""The UI's event functions as plain Python: answers, panel contents, history in Gradio 6's message format,
escaping of hostile article text, filters, ingest and removal. Fake encoder, tiny temporary index."""

from __future__ import annotations

import html
import json
import re

import gradio as gr
import pytest

from assistant.engine import AskSettings, Assistant
from assistant.results import Answer
from index.ingest import build_index
from tests.fakes import FakeEncoder
from ui import views
from ui.events import MAX_UPLOAD_BYTES, Events, example_questions, make_filters

# Payloads that must stay text wherever article text is shown.
HOSTILE_TITLE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> Zanzibar payloads'
HOSTILE_BODY = (
    'Zanzibar harbour cameras recorded <img src=x onerror="window.__xss=3"> every protest. '
    "Click [here](javascript:window.__xss=4) for **bold** claims. <script>window.__xss=6</script> "
    'The cameras used <svg onload="window.__xss=7"></svg> facial recognition on crowds. '
    "</div></div><style>body{display:none}</style> Officers said $$x^2$$ and `code` and &lt;b&gt; "
    "and # not a heading."
)

ARTICLES = {
    "ibm.md": """---
id: ibm
title: IBM leaves the face recognition market
source: Ledger Wire
published_at: 2020-06-08
url: https://ledger.example/ibm
---
IBM said it will no longer offer general purpose facial recognition software. Chief executive Arvind Krishna
wrote to members of Congress about racial profiling. The company said police use deserved a national dialogue.
""",
    "amazon.md": """---
id: amazon
title: Amazon pauses police use of Rekognition
source: Harbor Times
published_at: 2020-06-10
---
Amazon announced a one year moratorium on police use of its Rekognition software. The company asked
Congress to pass rules for the technology. Civil liberties groups said a pause was not enough.
""",
    "weather.md": """---
id: weather
title: Storms expected along the coast
source: Harbor Times
published_at: 2021-03-02
---
Forecasters expect heavy rain and strong winds along the coast on Friday. Residents were told to secure
outdoor furniture. Ferries may be cancelled if gusts exceed sixty miles per hour.
""",
    "hostile.json": json.dumps({"id": "hostile", "title": HOSTILE_TITLE, "source": "<b>Evil</b> Source",
                                "published_at": "2020-06-09", "url": "javascript:window.__xss=5",
                                "body": HOSTILE_BODY}),
}
FAKE_SETTINGS = AskSettings(abstain_threshold=0.3)  # the hashing encoder's similarities run lower


def write_corpus(folder, articles: dict[str, str] = ARTICLES):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text)
    return folder


def make_assistant(tmp_path_factory, encoder=None, settings: AskSettings = FAKE_SETTINGS) -> Assistant:
    """A fresh tiny index (fake encoder) and an Assistant over it; tests may ingest and remove."""
    encoder = encoder or FakeEncoder()
    index_dir = tmp_path_factory.mktemp("ui-index")
    build_index([str(write_corpus(tmp_path_factory.mktemp("ui-corpus")))], index_dir, encoder)
    return Assistant.load(index_dir, encoder=encoder, settings=settings)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    engine = make_assistant(tmp_path_factory)
    yield engine
    engine.close()


@pytest.fixture
def events(assistant) -> Events:
    return Events(assistant)


def turn(events: Events, question: str, messages=None, answers=None, **options):
    """Both steps of a chat turn, as the app chains them."""
    messages, box, pending = events.push_question(question, messages or [])
    assert box == ""
    args = {"sources": [], "date_from": "", "date_to": "", "k": 5, "mode": "hybrid", "max_sentences": 3} | options
    return events.answer(pending, messages, answers or [], **args)


def is_skip(value) -> bool:
    return value == gr.skip()


# --- chat -------------------------------------------------------------------------------------------

def test_push_question_shows_it_at_once(events):
    messages, box, pending = events.push_question("  What did IBM say?  ", [])
    assert messages == [{"role": "user", "content": "What did IBM say?"}]
    assert (box, pending) == ("", "What did IBM say?")
    assert events.push_question("   ", messages) == (messages, "", "")


def test_answer_adds_message_history_and_panel(events):
    messages, answers, panel, article = turn(events, "What did IBM say about facial recognition?")
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert len(answers) == 1 and isinstance(answers[0], Answer) and not answers[0].abstained
    text = messages[1]["content"]
    assert "[\\[1\\]](#cite-0-1)" in text  # the marker links to passage 1 of answer 0
    assert "IBM said it will no longer offer general purpose facial recognition software" in text
    assert 'data-cite="0-1"' in panel and "<mark" in panel
    assert "IBM leaves the face recognition market" in panel
    assert 'href="https://ledger.example/ibm"' in panel and 'rel="noopener noreferrer nofollow"' in panel
    assert article == views.article_placeholder()
    for cited in answers[0].cited:  # every highlight in the panel is a cited sentence
        for start, end in cited.highlights:
            assert html.escape(cited.passage.text[start:end]) in panel


def test_empty_question_changes_nothing(events):
    assert all(is_skip(v) for v in events.answer("", [], []))


def test_messages_survive_gradio6_round_trip_and_follow_up_uses_answers(events, assistant, monkeypatch):
    chatbot = gr.Chatbot()
    messages, answers, *_ = turn(events, "What did IBM say about facial recognition?")
    # What the browser sends back: Gradio 6 normalises content to a list of typed blocks.
    shown = chatbot.postprocess(messages)
    normalised = chatbot.preprocess(shown)
    assert normalised[0]["content"] == [{"type": "text", "text": "What did IBM say about facial recognition?"}]

    seen = {}
    original = assistant.ask

    def spy(question, **kwargs):
        seen.update(kwargs)
        return original(question, **kwargs)

    monkeypatch.setattr(assistant, "ask", spy)
    messages2, answers2, panel2, _ = turn(events, "And Amazon?", normalised, answers)
    assert seen["history"] == answers  # previous Answer objects, oldest first
    assert len(messages2) == 4 and messages2[:2] == normalised
    assert len(answers2) == 2 and answers2[0] is answers[0]
    assert "#cite-1-" in messages2[3]["content"] and 'data-cite="1-' in panel2
    chatbot.postprocess(messages2)  # the mixed list is still valid Chatbot data


def test_selecting_a_marker_opens_the_article_with_the_sentence_highlighted(events, assistant):
    _, answers, *_ = turn(events, "What did IBM say about facial recognition?")
    panel, article = events.select(answers, "0-1")
    assert 'class="cite-card selected"' in panel
    sentence = next(s for s in answers[0].sentences if s.citation == 1)
    body = assistant.article(sentence.article_id).body
    assert body[sentence.start:sentence.end] == sentence.text
    marks = re.findall(r'<mark class="hl">(.*?)</mark>', article, re.S)
    assert html.escape(sentence.text) in marks
    # The whole body is there, in order, once the markup is taken away.
    assert html.unescape(re.sub(r"<[^>]+>", "", article.split('<div class="article-body">', 1)[1])) == body


@pytest.mark.parametrize("key", [None, "", "x", "0", "9-1", "0-99", "-1-1", "0-1; drop"])
def test_selecting_nothing_valid_changes_nothing(events, key):
    _, answers, *_ = turn(events, "What did IBM say about facial recognition?")
    assert all(is_skip(v) for v in events.select(answers, key))


def test_abstention_is_shown_with_closest_passages(tmp_path_factory):
    engine = make_assistant(tmp_path_factory, settings=AskSettings(abstain_threshold=2.0))  # never confident
    try:
        ev = Events(engine)
        messages, answers, panel, _ = turn(ev, "What did IBM say about facial recognition?")
        assert answers[0].abstained
        assert "No answer found" in messages[-1]["content"] and "#cite-" not in messages[-1]["content"]
        assert "No answer: the closest passages" in panel
        assert panel.count('class="cite-card closest"') == min(views.CLOSEST, len(answers[0].passages))
        assert "<mark" not in panel
        _, article = ev.select(answers, "0-1")
        assert '<span class="in-passage">' in article and "<mark" not in article
    finally:
        engine.close()


def test_new_conversation_clears_everything(events):
    messages, answers, panel, article, box = events.new_conversation()
    assert (messages, answers, box) == ([], [], "")
    assert panel == views.panel_html(None) and article == views.article_placeholder()


# --- filters and options ------------------------------------------------------------------------------

def test_filters_and_options_reach_the_engine(events, assistant, monkeypatch):
    seen = {}
    original = assistant.ask
    monkeypatch.setattr(assistant, "ask", lambda q, **kw: seen.update(kw) or original(q, **kw))
    turn(events, "police", sources=["Harbor Times"], date_from="2020-06-01", date_to="2020-06-30", k=2,
         mode="keyword", max_sentences=1)
    assert seen["filters"] == make_filters(["Harbor Times"], "2020-06-01", "2020-06-30")
    assert (seen["k"], seen["mode"], seen["max_sentences"]) == (2, "keyword", 1)


@pytest.mark.parametrize(("options", "expected"), [
    ({"date_from": "June 2020"}, "must look like 2020-06-10"),
    ({"date_from": "2020-07-01", "date_to": "2020-06-01"}, "date range is empty"),
    ({"mode": "magic"}, "unknown retrieval mode"),
])
def test_bad_options_are_explained_in_the_chat(events, options, expected):
    messages, answers, panel, _ = turn(events, "What did IBM say?", **options)
    assert messages[-1]["role"] == "assistant" and "Could not answer" in messages[-1]["content"]
    assert expected in messages[-1]["content"].replace("\\", "")
    assert answers == [] and is_skip(panel)


# --- escaping -----------------------------------------------------------------------------------------

PAYLOADS = [HOSTILE_TITLE, HOSTILE_BODY, "[x](javascript:alert(1))", "![i](http://x/y.png)", "<a href=x>y</a>",
            "# Heading", "> quote", "1. list", "- item", "***", "`code`", "a\nb\n\n---", "&lt;script&gt;",
            "mail me@x.example", "<http://x.example>", "\u202eevil"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_chat_text_is_literal_markdown(payload):
    out = views.md_literal(payload)
    assert "<" not in out and "\n" not in out
    assert not re.search(r"(?<!\\)[\[\]`*_~@]", out)  # every inline markdown character is escaped
    assert not re.match(r"[#>+=|-]|\d+[.)]", out)  # nothing starts a block
    assert set(re.findall(r"&(#?\w+);", out)) <= {"amp", "lt"}  # no entity of the article's own survives


@pytest.mark.parametrize("payload", PAYLOADS)
def test_panel_and_article_html_escape_everything(payload):
    from index.articles import Article

    article = Article(id="x", title=payload, body=payload + " tail", source=payload, url=payload)
    out = views.article_html(article, [(0, len(payload))], (0, len(payload)), 1)
    for tag in ("<script", "<img", "<svg", "<style", "<a href=x", "<iframe"):
        assert tag not in out
    assert all(href.startswith(("http://", "https://")) for href in re.findall(r'href="([^"]*)"', out))


def test_hostile_article_renders_as_text_everywhere(events):
    messages, answers, panel, _ = turn(events, "What did the Zanzibar harbour cameras record?")
    everything = [messages[-1]["content"], panel, events.select(answers, "0-1")[1]]
    assert any("Zanzibar" in part for part in everything)
    for part in everything:
        for tag in ("<script", "<img", "<svg", "<style", "</div></div><style"):
            assert tag not in part
        assert not re.search(r'href="\s*javascript:', part, re.I)
    assert html.escape(HOSTILE_TITLE) in panel
    assert "window.__xss=5" in panel and 'href="javascript' not in panel  # the bad URL is shown, not linked


@pytest.mark.parametrize(("url", "ok"), [
    ("https://example.com/a?b=c", True), ("http://example.com", True), ("javascript:alert(1)", False),
    ("JaVaScRiPt:alert(1)", False), ("java\nscript:alert(1)", False), ("data:text/html,x", False),
    ("//evil.example", False), ("/relative", False), ('https://x.example/"onmouseover=alert(1)', False),
    ("https://", False), (None, False), ("", False),
])
def test_only_http_links(url, ok):
    assert (views.safe_url(url) is not None) is ok


# --- corpus -------------------------------------------------------------------------------------------

def test_list_articles_and_choices(events):
    rows = events.list_articles()
    assert {"ibm", "amazon", "weather", "hostile"} <= {r["id"] for r in rows}
    assert set(rows[0]) == {"id", "title", "source", "published_at", "url", "authors", "chunks"}
    assert events.article_rows()[0][:3] == [rows[0]["title"], rows[0]["source"], rows[0]["published_at"]]
    assert "Harbor Times" in events.source_choices()
    assert "articles" in events.corpus_summary()


def test_ingest_checks_type_and_size_then_adds_and_remove_removes(tmp_path_factory, tmp_path):
    engine = make_assistant(tmp_path_factory)
    try:
        ev = Events(engine)
        good = tmp_path / "new-article.md"
        good.write_text("---\ntitle: Zanzibar ferry timetable changes\nsource: Port Gazette\n---\n"
                        "The Zanzibar ferry will leave an hour earlier from Monday.\n")
        bad_type = tmp_path / "payload.exe"
        bad_type.write_text("MZ")
        too_big = tmp_path / "huge.txt"
        with too_big.open("wb") as f:
            f.truncate(MAX_UPLOAD_BYTES + 1)
        calls = []
        message, report = ev.ingest([str(good), str(bad_type), str(too_big)],
                                    progress=lambda *a, **k: calls.append(a))
        assert report["added"] == ["new-article"]
        reasons = {s["file"]: s["reason"] for s in report["skipped"]}
        assert "not an accepted type" in reasons["payload.exe"] and "20 MB" in reasons["huge.txt"]
        assert "Added 1" in message and "Skipped payload.exe" in message and calls
        assert "new-article" in {r["id"] for r in ev.list_articles()}
        assert "Port Gazette" in ev.refresh_corpus()[1]["choices"]

        assert ev.ingest(None)[0] == "No files were uploaded."
        assert "Removed 1" in ev.remove(["new-article"])
        assert "new-article" not in {r["id"] for r in ev.list_articles()}
        assert "Not in the index: nope" in ev.remove(["nope"])
        assert ev.remove([]).startswith("Nothing removed")
    finally:
        engine.close()


def test_article_removed_after_the_answer_is_explained(tmp_path_factory):
    engine = make_assistant(tmp_path_factory)
    try:
        ev = Events(engine)
        _, answers, *_ = turn(ev, "What did IBM say about facial recognition?")
        engine.remove([answers[0].cited[0].passage.article_id])
        _, article = ev.select(answers, "0-1")
        assert "no longer in the index" in article
    finally:
        engine.close()


def test_example_questions(assistant):
    questions = example_questions(assistant)
    assert questions and all("“" in q for q in questions)  # not the demo corpus: about its own articles


# --- app wiring ---------------------------------------------------------------------------------------

def test_app_exposes_stable_api_names_only(assistant):
    from ui.app import build_app

    app = build_app(assistant, examples=["What did IBM say?"])
    public = {fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"}
    assert public == {"ask", "list_articles", "ingest"}
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"chat", "question", "ask-button", "new-conversation", "passages", "article-view", "upload",
            "articles-table", "filter-sources", "filter-from", "filter-to", "passages-k", "answer-length",
            "mode", "remove-select", "remove-button"} <= ids


def test_turns_from_api_history():
    from ui.app import turns_from_json

    previous = {"question": "What did IBM say?", "query": "IBM say", "text": "IBM left. [1]", "abstained": False,
                "cited": [{"passage": {"article_id": "ibm"}}, {"passage": {"article_id": "ibm"}}]}
    turns = turns_from_json([previous, "And Amazon?"])
    assert turns[0].cited_article_ids == ("ibm",) and turns[0].answer_text == "IBM left. [1]"
    assert turns[1] == "And Amazon?"
    with pytest.raises(gr.Error):
        turns_from_json([42])


def test_serve_command_defaults_to_localhost_and_parses_auth(monkeypatch):
    from assistant.cli import build_parser
    from assistant.errors import UserError
    from ui.command import parse_auth

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.auth, args.share, args.index) == ("127.0.0.1", None, None, False, None)
    assert parse_auth("ann:pa:ss, bob:x") == [("ann", "pa:ss"), ("bob", "x")]
    assert parse_auth("") is None
    with pytest.raises(UserError):
        parse_auth("no-password")
