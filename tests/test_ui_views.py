"""ui/views.py: pure functions from engine results to display strings. Everything from an article or a
user is escaped in one place (markdown for the chat, HTML for the panel and the article view); dates,
notes and [n] previews in plain words."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from assistant.results import Answer, AnswerSentence, Filters
from tests.fakes import HOSTILE_BODY, HOSTILE_TITLE, turn
from ui import views


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


def test_chronological_dates_are_literal_markdown():
    sentence = AnswerSentence("**Bold** <b>x</b>", 1, "a", 0, 17, 1.0, published_at="# 2020 <i>")
    answer = Answer("q", "q", (sentence,), (), (), False, 1.0, "hybrid", chronological=True, as_of="2020-01-01")
    first = views.answer_message(answer, 0).split("\n")[0]
    assert first.startswith("- **\\# 2020 &lt;i>** \\*\\*Bold\\*\\* &lt;b>x&lt;/b> ")


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
    session, (messages, panel, *_) = turn(events, "What did the Zanzibar harbour cameras record?")
    everything = [messages[-1]["content"], panel, events.select(session, "0-1")[1]]
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


def test_plain_note_drops_the_score_jargon():
    assert views.plain_note("evidence too weak (confidence 0.09)") == ""
    assert views.plain_note("read as a follow-up; evidence too weak (confidence 0.09)") == "read as a follow-up"


def test_abstention_text_prefers_the_engines_reason():
    class WithReason:
        reason = "the articles mention the terminal but not its price"
        shown, passages, filters = (), (), Filters()

    assert views.abstention_text(WithReason()).startswith("The articles mention the terminal but not its price.")
    empty = Answer("q", "q", (), (), (), True, 0.0, "hybrid", filters=Filters(sources=("X",)))
    assert views.abstention_text(empty) == "No article matches your filters."


def test_marker_title_cannot_break_out_of_the_link():
    from assistant.results import Passage

    passage = Passage(0, 0, "a", 'T") [x](javascript:alert(1)) \\', "S", None, None, "t", 0, 1, 1.0)
    marker = views._marker(0, 1, (passage, "said \"so\""))
    assert marker.count('"') == 2 and "\\" not in marker.split("(#cite-0-1", 1)[1]


def test_articles_table_escapes_and_keeps_dates_whole():
    out = views.articles_table_html([{"title": "<b>x</b>", "source": "S", "published_at": "2020-06-08",
                                      "chunks": 3, "id": "a&b"}])
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "a&amp;b" in out and 'class="col-date">2020-06-08<' in out
    assert 'tabindex="0" role="region"' in out
