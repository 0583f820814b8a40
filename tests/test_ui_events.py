"""The UI's event functions as plain Python: answers, panel contents, history in Gradio 6's message format,
escaping of hostile article text, filters, time ("as of", time notes, "Search all dates", dated answers),
ingest and removal, and the Evaluation tab. Fake encoder, tiny temporary index."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from assistant.engine import AskSettings, Assistant
from assistant.results import Answer, AnswerSentence
from index.ingest import build_index
from tests.fakes import NEWS_ARTICLES, FakeEncoder, hand_model
from ui import views
from ui.evaluation import DEMO_DATASET, SOURCE_FILE, SOURCE_SYNTHETIC, problems_of
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
    **NEWS_ARTICLES,
    "hostile.json": json.dumps({"id": "hostile", "title": HOSTILE_TITLE, "source": "<b>Evil</b> Source",
                                "published_at": "2020-06-09", "url": "javascript:window.__xss=5",
                                "body": HOSTILE_BODY}),
}
FAKE_SETTINGS = AskSettings(answer_model=hand_model())  # fixed weights, not the shipped fitted model


def write_corpus(folder, articles: dict[str, str] = ARTICLES):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text)
    return folder


def make_assistant(tmp_path_factory, encoder=None, settings: AskSettings = FAKE_SETTINGS,
                   articles: dict[str, str] = ARTICLES) -> Assistant:
    """A fresh tiny index (fake encoder) and an Assistant over it; tests may ingest and remove."""
    encoder = encoder or FakeEncoder()
    index_dir = tmp_path_factory.mktemp("ui-index")
    build_index([str(write_corpus(tmp_path_factory.mktemp("ui-corpus"), articles))], index_dir, encoder)
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
    messages, answers, panel, article, _ = turn(events, "What did IBM say about facial recognition?")
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
    messages2, answers2, panel2, *_ = turn(events, "And Amazon?", normalised, answers)
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
    never_sure = AskSettings(answer_model=hand_model(), abstain_threshold=2.0)
    engine = make_assistant(tmp_path_factory, settings=never_sure)
    try:
        ev = Events(engine)
        messages, answers, panel, *_ = turn(ev, "What did IBM say about facial recognition?")
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
    messages, answers, panel, article, box, all_dates = events.new_conversation()
    assert (messages, answers, box) == ([], [], "")
    assert all_dates["visible"] is False
    assert panel == views.panel_html(None) and article == views.article_placeholder()


# --- filters and options ------------------------------------------------------------------------------

def test_filters_and_options_reach_the_engine(events, assistant, monkeypatch):
    seen = {}
    original = assistant.ask
    monkeypatch.setattr(assistant, "ask", lambda q, **kw: seen.update(kw) or original(q, **kw))
    turn(events, "police", sources=["Harbor Times"], date_from="2020-06-01", date_to="2020-06-30", k=2,
         mode="keyword", max_sentences=1)
    options = seen["options"]
    assert options.filters == make_filters(["Harbor Times"], "2020-06-01", "2020-06-30")
    assert (options.k, options.mode, options.max_sentences, options.per_article) == (2, "keyword", 1, 2)


@pytest.mark.parametrize(("options", "expected"), [
    ({"date_from": "June 2020"}, "must look like 2020-06-10"),
    ({"date_from": "2020-07-01", "date_to": "2020-06-01"}, "date range is empty"),
    ({"mode": "magic"}, "unknown retrieval mode"),
    ({"as_of": "last Tuesday"}, "the 'as of' date must look like 2020-06-10"),
])
def test_bad_options_are_explained_in_the_chat(events, options, expected):
    messages, answers, panel, _, all_dates = turn(events, "What did IBM say?", **options)
    assert messages[-1]["role"] == "assistant" and "Could not answer" in messages[-1]["content"]
    assert expected in messages[-1]["content"].replace("\\", "")
    assert answers == [] and is_skip(panel) and all_dates["visible"] is False


# --- time: "as of", time notes, "Search all dates", dated answers --------------------------------------

NEWEST = "2021-03-02"  # the newest article of ARTICLES: the default "as of" of this archive


def spy_on(assistant, monkeypatch) -> list[dict]:
    """Every assistant.ask call's question, history and options (flattened), in order."""
    from dataclasses import asdict

    calls = []
    original = assistant.ask

    def spy(question, **kwargs):
        options = kwargs["options"]
        calls.append({"question": question, "history": kwargs["history"], **asdict(options),
                      "filters": options.filters})
        return original(question, **kwargs)

    monkeypatch.setattr(assistant, "ask", spy)
    return calls


def test_as_of_and_use_dates_reach_the_engine(events, assistant, monkeypatch):
    calls = spy_on(assistant, monkeypatch)
    turn(events, "What did IBM say?")
    turn(events, "What did IBM say?", as_of=" 2020-06-30 ", time_aware=False)
    assert (calls[0]["as_of"], calls[0]["time_aware"]) == (None, True)  # empty box: the engine's default
    assert (calls[1]["as_of"], calls[1]["time_aware"]) == ("2020-06-30", False)


def test_time_note_and_date_used_are_shown_and_all_dates_offered(events):
    messages, answers, _, _, all_dates = turn(events, "What did IBM say in June 2020?")
    answer = answers[0]
    assert (answer.as_of, answer.time_note) == (NEWEST, "Searching articles from June 2020")
    assert answer.time_window == ("2020-06-01", "2020-06-30")
    last_line = messages[-1]["content"].split("\n\n")[-1]
    assert last_line == f"*As of {NEWEST} (the newest article's date) · Searching articles from June 2020*"
    assert all_dates["visible"] is True

    messages, answers, *_, all_dates = turn(events, "What did IBM say about facial recognition?")
    assert answers[0].time_note == ""
    assert messages[-1]["content"].endswith(f"*As of {NEWEST} (the newest article's date)*")  # always said
    assert all_dates["visible"] is False  # dates played no part: nothing to remove


def test_as_of_set_in_the_options_is_used_and_said(events):
    messages, answers, *_, all_dates = turn(events, "What did IBM say about facial recognition?", as_of="2020-06-12")
    assert answers[0].as_of == "2020-06-12"
    assert "*As of 2020-06-12 (as set in the options)*" in messages[-1]["content"]
    assert all_dates["visible"] is True  # a set date prefers the news of the week before it


def test_time_line_names_where_the_date_came_from():
    answer = Answer("q", "q", (), (), (), False, 1.0, "hybrid", as_of="2024-05-02", time_note="Preferring recent "
                    "articles")
    today = date(2024, 5, 2)
    assert views.time_line(answer, today=today) == "As of 2024-05-02 (today) · Preferring recent articles"
    assert views.time_line(answer, today=date(2025, 1, 1)).startswith("As of 2024-05-02 (the newest article's date)")
    assert views.time_line(answer, explicit_as_of=True, today=today).startswith("As of 2024-05-02 (as set in the")
    assert views.time_line(answer, time_aware=False, today=today) == (
        "As of 2024-05-02 (today) · all dates searched: dates in the question were not used")
    assert not views.time_shaped(answer, time_aware=False)


def test_search_all_dates_asks_the_same_question_again_without_dates(events, assistant, monkeypatch):
    question = "What did IBM say about general purpose facial recognition in June 2020?"
    messages, answers, *_ = turn(events, question)
    calls = spy_on(assistant, monkeypatch)
    shown, hide = events.push_all_dates(messages, answers)
    assert hide["visible"] is False
    assert shown[:2] == messages and shown[2]["role"] == "user"
    assert shown[2]["content"] == f"{question} *(again, over all dates)*"

    messages2, answers2, panel, article, all_dates = events.answer_all_dates(
        shown, answers, [], "", "", 4, "hybrid", 2, "")
    assert len(calls) == 1 and calls[0]["question"] == question
    assert calls[0]["time_aware"] is False and calls[0]["history"] == []  # read as it was the first time
    assert (calls[0]["k"], calls[0]["max_sentences"]) == (4, 2)  # the options as they are now
    again = answers2[-1]
    assert len(answers2) == 2 and answers2[0] is answers[0]
    assert again.time_note == "" and again.time_window is None
    assert [m["role"] for m in messages2] == ["user", "assistant", "user", "assistant"]
    assert "all dates searched" in messages2[-1]["content"] and "#cite-1-1" in messages2[-1]["content"]
    assert 'data-turn="1"' in panel and article == views.article_placeholder()
    assert all_dates["visible"] is False


def test_search_all_dates_keeps_a_follow_up_read_as_before(events, assistant, monkeypatch):
    _, answers, *_ = turn(events, "What did IBM say about facial recognition?")
    messages, answers, *_ = turn(events, "And Amazon in June 2020?", answers=answers)
    calls = spy_on(assistant, monkeypatch)
    shown, _ = events.push_all_dates(messages, answers)
    events.answer_all_dates(shown, answers)
    assert calls[0]["question"] == "And Amazon in June 2020?" and calls[0]["history"] == answers[:1]


def test_search_all_dates_without_an_answer_changes_nothing(events):
    shown, hide = events.push_all_dates([], [])
    assert is_skip(shown) and hide["visible"] is False
    assert all(is_skip(v) for v in events.answer_all_dates([], []))


def test_chronological_answer_lists_sentences_with_their_dates(events):
    messages, answers, *_ = turn(events, "timeline of police use of facial recognition")
    answer = answers[0]
    assert answer.chronological and len(answer.sentences) >= 2
    dates = [s.published_at for s in answer.sentences]
    assert dates == sorted(dates) and all(dates)
    assert answer.text.startswith(f"({dates[0]}) ")  # the engine's own text, for the API
    lines = messages[-1]["content"].split("\n\n")[0].split("\n")
    assert len(lines) == len(answer.sentences)
    for line, sentence in zip(lines, answer.sentences, strict=True):
        assert line.startswith(f"- **{sentence.published_at}** ")
        assert line.endswith(f"(#cite-0-{sentence.citation})")
    assert "Listing answer sentences by date" in messages[-1]["content"]
    gr.Chatbot().postprocess(messages)  # still valid Chatbot data


def test_chronological_dates_are_literal_markdown():
    sentence = AnswerSentence("**Bold** <b>x</b>", 1, "a", 0, 17, 1.0, published_at="# 2020 <i>")
    answer = Answer("q", "q", (sentence,), (), (), False, 1.0, "hybrid", chronological=True, as_of="2020-01-01")
    first = views.answer_message(answer, 0).split("\n")[0]
    assert first.startswith("- **\\# 2020 &lt;i>** \\*\\*Bold\\*\\* &lt;b>x&lt;/b> ")


WIRE_STORY = ("Port authorities in Zanzibar said on Monday that the new container terminal will open in September "
              "after two years of construction, doubling the harbour's capacity for cargo ships. The terminal was "
              "financed by a consortium of regional banks and will employ about four hundred dock workers, the "
              "authority said in a statement. Officials expect shipping lines to move traffic from neighbouring "
              "ports once the deeper berths are ready for the largest vessels.")
WIRE_COPIES = {
    f"{name}.md": f"---\nid: terminal-{name}\ntitle: Zanzibar terminal {name}\nsource: {source}\n"
                  f"published_at: 2020-06-0{day}\n---\n{WIRE_STORY}\n"
    for name, source, day in (("a", "Coast Courier", 1), ("b", "Island Herald", 2), ("c", "<b>Wire</b> & Co", 3))
}


def test_passage_card_says_who_else_reported_it(tmp_path_factory):
    engine = make_assistant(tmp_path_factory, articles=WIRE_COPIES)
    try:
        _, answers, panel, *_ = turn(Events(engine), "When will the Zanzibar container terminal open?")
        first = answers[0].cited[0].passage  # one of the three copies; the other two are folded into it
        assert len(answers[0].passages) == 1 and len(first.also_reported_by) == 2
        assert {first.source, *first.also_reported_by} == {"Coast Courier", "Island Herald", "<b>Wire</b> & Co"}
        assert f'<div class="also">Also reported by: {html.escape(", ".join(first.also_reported_by))}</div>' in panel
        assert "<b>Wire" not in panel
    finally:
        engine.close()


def test_also_reported_by_is_escaped_and_optional():
    assert views.also_reported_html(()) == ""
    out = views.also_reported_html(["<img src=x onerror=alert(1)>", "A & B", "A & B", " "])
    assert out == '<div class="also">Also reported by: &lt;img src=x onerror=alert(1)&gt;, A &amp; B</div>'


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
    messages, answers, panel, *_ = turn(events, "What did the Zanzibar harbour cameras record?")
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


# --- evaluation tab -----------------------------------------------------------------------------------

EVAL_QUESTIONS = [
    {"id": "q1", "question": "What did IBM say about general purpose facial recognition software?",
     "answer": "general purpose", "evidence": [{"article_id": "ibm"}], "question_date": "2020-06-12"},
    {"id": "q2", "question": "Which company announced a one year moratorium on police use of Rekognition?",
     "answer": "Amazon", "evidence": [{"article_id": "amazon"}]},
    {"id": "q3", "question": "What may happen to ferries if gusts exceed sixty miles per hour?",
     "answer": "purple elephants", "evidence": [{"article_id": "weather"}]},  # a planted answer failure
    {"id": "q4", "question": "Who won the chess olympiad in Zagreb?", "type": "unanswerable"},
]


def write_questions(folder, rows=EVAL_QUESTIONS, name="questions.jsonl"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def is_cleared(outputs) -> bool:
    _, report, plot, failures = outputs
    return report == "" and plot is None and failures == []


def test_evaluation_runs_a_questions_file(events, tmp_path):
    calls = []
    status, report, plot, failures = events.evaluate(
        SOURCE_FILE, str(write_questions(tmp_path, name="mine.jsonl")), ["keyword", "hybrid"], None, True,
        progress=lambda *a, **k: calls.append(a[0]))
    assert status.startswith("Evaluated 4 questions from mine.jsonl in 2 mode(s) (hybrid, keyword)")
    assert "2 failure(s) on 1 question(s)" in status and "Traceback" not in status
    assert calls[0] == (0, 8) and calls[-1] == (7, 8)  # one step per question and mode
    assert report.startswith("#### Evaluation: mine") and "| metric | hybrid | keyword |" in report
    assert "| recall@5 | 1.000 | 1.000 |" in report
    assert Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(plot).parent.joinpath("report.md").is_file()
    assert [row[0] for row in failures] == ["hybrid", "keyword"]
    mode, question, gold, expected, rank, produced, problem = failures[0]
    assert (question, gold, expected, rank) == (EVAL_QUESTIONS[2]["question"], "weather", "purple elephants", "1")
    assert "Ferries may be cancelled" in produced and problem == "expected answer missing"


def test_evaluation_failure_kinds():
    def result(**kw):
        base = dict(unanswerable=False, abstained=False, first_relevant_rank=1, answer_in_answer=True)
        return SimpleNamespace(**(base | kw))

    assert problems_of(result()) == []
    assert problems_of(result(first_relevant_rank=6)) == ["gold article not in the top 5"]
    assert problems_of(result(first_relevant_rank=None, answer_in_answer=None)) == ["gold article not in the top 5"]
    assert problems_of(result(abstained=True, answer_in_answer=False)) == ["abstained on an answerable question"]
    assert problems_of(result(answer_in_answer=False)) == ["expected answer missing"]
    assert problems_of(result(unanswerable=True, first_relevant_rank=None)) == ["answered an unanswerable question"]
    assert problems_of(result(unanswerable=True, abstained=True, first_relevant_rank=None)) == []


def test_evaluation_failure_rows_show_expected_and_produced(events, tmp_path, monkeypatch):
    from assistant.engine import AskSettings as Settings

    monkeypatch.setattr(events.assistant, "settings", Settings(abstain_threshold=2.0))  # abstains on everything
    _, _, _, failures = events.evaluate(SOURCE_FILE, str(write_questions(tmp_path)), ["hybrid"], 2, True)
    assert [row[1] for row in failures] == [EVAL_QUESTIONS[0]["question"], EVAL_QUESTIONS[1]["question"]]
    assert failures[0][3:] == ["general purpose", "1", "(abstained)", "abstained on an answerable question"]


def test_evaluation_of_synthetic_questions_from_this_index(events):
    status, report, plot, failures = events.evaluate(SOURCE_SYNTHETIC, "ignored", ["dense"], 4, False)
    assert status.startswith("Evaluated 4 synthetic questions drawn from this index in 1 mode(s) (dense)")
    assert "| metric | dense-notime |" in report and "(synthetic questions)" in report and Path(plot).is_file()


def test_dataset_with_its_own_articles_is_left_to_the_cli(events, tmp_path, monkeypatch):
    import eval.runs

    monkeypatch.setattr(eval.runs, "run_question", lambda *a: pytest.fail("must not run"))
    questions = write_questions(tmp_path / "rtqa")
    (tmp_path / "rtqa" / "articles.jsonl").write_text('{"id": "x", "title": "t", "body": "b"}\n')
    outputs = events.evaluate(SOURCE_FILE, str(questions), ["hybrid"], None, True)
    assert "brings its own articles (articles.jsonl beside it)" in outputs[0]
    assert f"assistant eval {questions}" in outputs[0] and is_cleared(outputs)
    beir = tmp_path / "beir"
    beir.mkdir()
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "title": "t", "text": "x"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "1", "text": "q"}\n')
    (beir / "qrels").mkdir()
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n")
    outputs = events.evaluate(SOURCE_FILE, str(beir), ["hybrid"], None, True)
    assert "a BEIR folder with its own corpus" in outputs[0] and is_cleared(outputs)


def test_demo_questions_are_the_default_and_refused_on_another_index(events):
    assert DEMO_DATASET.is_file()
    outputs = events.evaluate(SOURCE_FILE, str(DEMO_DATASET), ["hybrid"], None, True)
    assert outputs[0].startswith("None of the dataset's") and "demo corpus" in outputs[0] and is_cleared(outputs)


def test_question_limit_judges_only_the_questions_run(events, tmp_path):
    rows = EVAL_QUESTIONS[:2] + [{"id": "q9", "question": "What did Nokia say?", "answer": "x",
                                  "evidence": [{"article_id": "not-indexed"}]}]
    status, report, _, failures = events.evaluate(SOURCE_FILE, str(write_questions(tmp_path, rows)), ["hybrid"], 2,
                                                  True)
    assert status.startswith("Evaluated 2 questions") and "not in this index" not in status and failures == []
    assert "2 questions; index:" in report and "| recall@5 | 1.000 |" in report  # not averaged over all 3


def test_dataset_partly_about_other_articles_is_run_with_a_note(events, tmp_path):
    rows = EVAL_QUESTIONS[:2] + [{"id": "q9", "question": "What did Nokia say?", "answer": "x",
                                  "evidence": [{"article_id": "not-indexed"}]}]
    status, _, _, failures = events.evaluate(SOURCE_FILE, str(write_questions(tmp_path, rows)), ["hybrid"], 0, True)
    assert "1 of 3 gold articles are not in this index" in status
    assert failures[-1][1:5] == ["What did Nokia say?", "not-indexed", "x", "not retrieved"]


@pytest.mark.parametrize(("setup", "source", "modes", "limit", "expected"), [
    (lambda d: d / "missing.jsonl", SOURCE_FILE, ["hybrid"], None, "no such file or folder"),
    (lambda d: d.joinpath("bad.jsonl").write_text('{"id": "a", "question": "b"\n') and d / "bad.jsonl", SOURCE_FILE,
     ["hybrid"], None, "bad.jsonl:1: invalid JSON"),
    (lambda d: d.joinpath("list.jsonl").write_text("[1, 2]\n") and d / "list.jsonl", SOURCE_FILE, ["hybrid"], None,
     "list.jsonl:1: expected a JSON object"),
    (lambda d: d.joinpath("no-gold.jsonl").write_text('{"id": "a", "question": "b"}\n') and d / "no-gold.jsonl",
     SOURCE_FILE, ["hybrid"], None, "no usable questions"),
    (lambda d: d.joinpath("x.csv").write_text("a,b\n") and d / "x.csv", SOURCE_FILE, ["hybrid"], None,
     "expected a questions .jsonl file"),
    (lambda d: d, SOURCE_FILE, ["hybrid"], None, "neither corpus.jsonl (BEIR) nor questions.jsonl"),
    (lambda d: "  ", SOURCE_FILE, ["hybrid"], None, "Enter the path of a questions .jsonl file"),
    (lambda d: write_questions(d), SOURCE_FILE, [], None, "Choose at least one retrieval mode"),
    (lambda d: write_questions(d), SOURCE_FILE, ["magic"], None, "Unknown retrieval mode 'magic'"),
    (lambda d: write_questions(d), SOURCE_FILE, ["hybrid"], -1, "question limit must be a whole number"),
    (lambda d: write_questions(d), SOURCE_FILE, ["hybrid"], 2.5, "question limit must be a whole number"),
])
def test_evaluation_problems_are_one_clear_message(events, tmp_path, setup, source, modes, limit, expected):
    outputs = events.evaluate(source, str(setup(tmp_path)), modes, limit, True)
    assert expected in outputs[0] and "Traceback" not in outputs[0] and len(outputs[0].splitlines()) == 1
    assert is_cleared(outputs)


def test_evaluation_engine_failure_is_one_line(events, tmp_path, monkeypatch):
    def broken(question, **kwargs):
        raise RuntimeError("the index is locked")

    monkeypatch.setattr(events.assistant, "ask", broken)
    outputs = events.evaluate(SOURCE_FILE, str(write_questions(tmp_path)), ["hybrid"], None, True)
    assert outputs[0] == "The evaluation failed: RuntimeError: the index is locked" and is_cleared(outputs)


# --- app wiring ---------------------------------------------------------------------------------------

def test_app_exposes_stable_api_names_only(assistant):
    from ui.app import build_app

    app = build_app(assistant, examples=["What did IBM say?"])
    public = {fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"}
    assert public == {"ask", "list_articles", "ingest"}
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"chat", "question", "ask-button", "new-conversation", "passages", "article-view", "upload",
            "articles-table", "filter-sources", "filter-from", "filter-to", "passages-k", "answer-length",
            "mode", "remove-select", "remove-button", "as-of", "time-aware", "search-all-dates", "eval-source",
            "eval-dataset", "eval-modes", "eval-limit", "eval-run", "eval-status", "eval-report", "eval-plot",
            "eval-failures"} <= ids
    dataset = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "eval-dataset")
    assert dataset.value == str(DEMO_DATASET)


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
