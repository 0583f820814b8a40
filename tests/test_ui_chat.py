"""ui/events.py's chat: questions queued per tab and answered exactly once in order, the panel drawn from
the same turns, follow-ups, stop, errors at their field, options and time ("as of", "Search all dates").
Fake encoder, tiny temporary index."""

from __future__ import annotations

import html
import re
import threading

import gradio as gr
import pytest

from tests.fakes import DEFAULT_FORM, NEWEST, fake_settings, is_skip, make_ui_assistant, turn
from ui import views
from ui.conversations import Session
from ui.events import Events, FieldError, form_options, make_filters


def test_push_shows_the_question_at_once_and_answer_answers_it(events):
    session = Session()
    messages, stop = events.push(session, "  What did IBM say?  ", DEFAULT_FORM)
    assert messages == [{"role": "user", "content": "What did IBM say?"}] and stop["visible"] is True
    assert [p.question for p in session.pending] == ["What did IBM say?"]
    assert events.push(session, "   ", DEFAULT_FORM) == (gr.skip(), gr.skip())
    messages, panel, article, _, stop, saved, history = events.answer(session)
    assert [m["role"] for m in messages] == ["user", "assistant"] and not session.pending
    assert stop["visible"] is False and saved["id"] == session.current.id
    assert history["value"] == session.current.id and 'data-turn="0"' in panel


def test_answer_adds_message_history_and_panel(events):
    session, (messages, panel, article, *_) = turn(events, "What did IBM say about facial recognition?")
    answer = session.current.turns[0].answer
    assert not answer.abstained
    text = messages[1]["content"]
    assert re.search(r'\[\\\[1\\\]\]\(#cite-0-1 "\[1\] IBM leaves the face recognition market · Ledger Wire · '
                     r'2020-06-08: IBM said', text)  # the marker links to passage 1 and previews it
    assert "IBM said it will no longer offer general purpose facial recognition software" in text
    assert 'data-cite="0-1"' in panel and "<mark" in panel and "Copy answer with sources" in panel
    assert 'href="https://ledger.example/ibm"' in panel and 'rel="noopener noreferrer nofollow"' in panel
    assert 'role="button"' not in panel and '<button type="button" class="open-article"' in panel
    assert article == views.article_placeholder()
    for cited in answer.cited:  # every highlight in the panel is a cited sentence
        for start, end in cited.highlights:
            assert html.escape(cited.passage.text[start:end]) in panel


def test_twenty_questions_at_once_get_twenty_answers_in_order(events):
    """Pushes and answering passes interleave as the app's queue runs them: every question is answered
    once, in the order asked, and the last render shows them all."""
    session = Session()
    questions = [f"What did IBM say about facial recognition, take {i}?" for i in range(20)]
    outputs = []

    def answer():
        outputs.append(events.answer(session))

    threads = []
    for q in questions:
        events.push(session, q, DEFAULT_FORM)
        threads.append(threading.Thread(target=answer))
        threads[-1].start()
    for t in threads:
        t.join(30)
    assert [t.question for t in session.current.turns] == questions
    assert all(t.answer is not None for t in session.current.turns) and not session.pending
    rendered = [o for o in outputs if not is_skip(o[0])]
    assert rendered, "no answering pass rendered"
    final = events.render(session)[0]
    assert [m["role"] for m in final] == ["user", "assistant"] * 20


def test_a_double_submission_is_one_question(events):
    session = Session()
    events.push(session, "What did IBM say?", DEFAULT_FORM)
    assert events.push(session, "What did IBM say?", DEFAULT_FORM) == (gr.skip(), gr.skip())
    events.push(session, "What did IBM say?", DEFAULT_FORM | {"k": 3})  # other options: another question
    assert len(session.pending) == 2


def test_follow_up_is_read_with_the_earlier_answers(events, assistant, monkeypatch):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    first = session.current.turns[0].answer
    seen = {}
    original = assistant.ask
    monkeypatch.setattr(assistant, "ask", lambda q, **kw: seen.update(kw) or original(q, **kw))
    _, (messages, panel, *_) = turn(events, "And Amazon?", session)
    assert seen["history"] == [first]
    assert len(messages) == 4 and "#cite-1-" in messages[3]["content"] and 'data-cite="1-' in panel
    gr.Chatbot().postprocess(messages)  # valid Chatbot data


def test_stop_drops_waiting_questions_and_says_so(events):
    session = Session()
    events.push(session, "What did IBM say?", DEFAULT_FORM)
    events.push(session, "What did Amazon say?", DEFAULT_FORM)
    messages, panel, _, _, stop, saved, _ = events.stop(session)
    assert not session.pending and stop["visible"] is False
    assert [t.error for t in session.current.turns] == ["stopped before it was answered"] * 2
    assert "Could not answer" in messages[-1]["content"] and "No sources" in panel
    assert all(is_skip(v) for v in events.answer(session))  # nothing left to answer


def test_an_answer_begun_before_stop_is_dropped(events, assistant, monkeypatch):
    session = Session()
    events.push(session, "What did IBM say?", DEFAULT_FORM)
    original = assistant.ask

    def slow(question, **kwargs):
        events.stop(session)  # the user presses Stop while the engine works
        return original(question, **kwargs)

    monkeypatch.setattr(assistant, "ask", slow)
    assert all(is_skip(v) for v in events.answer(session))
    assert [t.error for t in session.current.turns] == ["stopped before it was answered"]


def test_selecting_a_marker_opens_the_article_with_the_sentence_highlighted(events, assistant):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    answer = session.current.turns[0].answer
    panel, article = events.select(session, "0-1")
    assert 'class="cite-card selected"' in panel and 'aria-pressed="true"' in panel
    sentence = next(s for s in answer.sentences if s.citation == 1)
    body = assistant.article(sentence.article_id).body
    assert body[sentence.start:sentence.end] == sentence.text
    marks = re.findall(r'<mark class="hl">(.*?)</mark>', article, re.S)
    assert html.escape(sentence.text) in marks
    assert 'tabindex="0" role="region"' in article  # the keyboard can scroll it
    inner = article.split('aria-label="Article text">', 1)[1]
    assert html.unescape(re.sub(r"<[^>]+>", "", inner)) == body


@pytest.mark.parametrize("key", [None, "", "x", "0", "9-1", "0-99", "-1-1", "0-1; drop"])
def test_selecting_nothing_valid_changes_nothing(events, key):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    assert all(is_skip(v) for v in events.select(session, key))


def test_abstention_is_explained_in_plain_words_with_closest_passages(tmp_path_factory):
    engine = make_ui_assistant(tmp_path_factory, settings=fake_settings(abstain_threshold=2.0))  # never confident
    try:
        ev = Events(engine)
        session, (messages, panel, *_) = turn(ev, "What did IBM say about facial recognition?")
        answer = session.current.turns[0].answer
        assert answer.abstained
        content = messages[-1]["content"]
        assert "No answer found" in content and "#cite-" not in content
        assert "confidence" not in content and "beside the chat" not in content
        assert "closest passages are listed under Sources" in content
        assert "No answer: the closest passages" in panel
        assert panel.count('class="cite-card closest"') == min(views.CLOSEST, len(answer.shown))
        assert "<mark" not in panel
        _, article = ev.select(session, "0-1")
        assert '<span class="in-passage">' in article and "<mark" not in article
    finally:
        engine.close()


def test_a_filter_excluding_everything_says_so(events):
    session, (messages, panel, *_) = turn(events, "What did IBM say?", sources=["No Such Paper"])
    content = messages[-1]["content"].replace("\\", "")
    assert "No article matches your filters." in content and "Filters: Only No Such Paper" in content
    assert "No article matches your filters." in panel and "cite-card" not in panel


def test_active_filters_are_shown_in_the_answer_line(events):
    _, (messages, *_) = turn(events, "police", sources=["Harbor Times"], date_from="2020-06-01",
                             date_to="2020-06-30")
    assert "*Filters: Only Harbor Times · published 2020-06-01 to 2020-06-30 · As of" in messages[-1]["content"]


def test_a_shorter_answer_says_why(events):
    _, (messages, *_) = turn(events, "What did IBM say about facial recognition?", max_sentences=6)
    content = messages[-1]["content"]
    got = content.count("(#cite-")
    assert got < 6 and f"{got} sentence{'s' if got != 1 else ''}, not 6:" in content


def test_an_error_clears_the_panel(events, assistant, monkeypatch):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    monkeypatch.setattr(assistant, "ask", lambda q, **kw: (_ for _ in ()).throw(RuntimeError("index locked")))
    _, (messages, panel, *_) = turn(events, "And Amazon?", session)
    assert messages[-1]["content"] == "**Could not answer:** RuntimeError: index locked"
    assert "cite-card" not in panel and "could not be answered" in panel


# --- options and errors at their field ----------------------------------------------------------------

def test_filters_and_options_reach_the_engine(events, assistant, monkeypatch):
    seen = {}
    original = assistant.ask
    monkeypatch.setattr(assistant, "ask", lambda q, **kw: seen.update(kw) or original(q, **kw))
    turn(events, "police", sources=["Harbor Times"], date_from="2020-06-01", date_to="2020-06-30", k=2,
         mode="keyword", max_sentences=1)
    options = seen["options"]
    assert options.filters == make_filters(["Harbor Times"], "2020-06-01", "2020-06-30")
    assert (options.k, options.mode, options.max_sentences, options.per_article) == (2, "keyword", 1, 2)


@pytest.mark.parametrize(("options", "field", "expected"), [
    ({"date_from": "June 2020"}, "date_from", "must look like 2020-06-10"),
    ({"date_from": "2020-07-01", "date_to": "2020-06-01"}, "date_to", "date range is empty"),
    ({"mode": "magic"}, "mode", "unknown retrieval mode"),
    ({"as_of": "last Tuesday"}, "as_of", "the 'as of' date must look like 2020-06-10"),
    ({"as_of": "0001-01-01"}, "as_of", "must be between 1800-01-01 and 2200-12-31"),
    ({"k": 50}, "k", "'k' must be a whole number from 1 to 20"),
    ({"k": "abc"}, "k", "'k' must be a whole number, not 'abc'"),
    ({"max_sentences": 2.5}, "max_sentences", "'max_sentences' must be a whole number"),
])
def test_bad_options_are_refused_at_their_field(events, options, field, expected):
    errors = Events.form_errors("What did IBM say?", DEFAULT_FORM | options)
    assert list(errors) == [field] and expected in errors[field]
    session = Session()
    with pytest.raises(FieldError, match=re.escape(expected)):
        events.push(session, "What did IBM say?", DEFAULT_FORM | options)
    assert not session.pending and not session.current.turns  # nothing was asked, the chat is unchanged


@pytest.mark.parametrize(("question", "expected"), [
    (12, "the question must be text, not int"), ("x" * 1001, "longer than 1000 characters"),
    ("What \ud800?", "invalid characters"),
])
def test_bad_questions_are_refused_at_the_question(question, expected):
    errors = Events.form_errors(question, DEFAULT_FORM)
    if isinstance(question, str):
        assert expected in errors["question"]
    with pytest.raises(FieldError, match=expected):
        Events(None).ask(question)


def test_form_options_names_the_field():
    with pytest.raises(FieldError) as caught:
        form_options(per_article=-1)
    assert caught.value.field == "per_article"


# --- time: "as of", time notes, "Search all dates", dated answers --------------------------------------

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
    session, (messages, _, _, all_dates, *_) = turn(events, "What did IBM say in June 2020?")
    answer = session.current.turns[0].answer
    assert (answer.as_of, answer.time_note) == (NEWEST, "Searching articles from June 2020")
    assert answer.time_window == ("2020-06-01", "2020-06-30")
    last_line = messages[-1]["content"].split("\n\n")[-1]
    assert last_line == f"*As of {NEWEST} (the newest article's date) · Searching articles from June 2020*"
    assert all_dates["visible"] is True

    session, (messages, _, _, all_dates, *_) = turn(events, "What did IBM say about facial recognition?")
    assert session.current.turns[0].answer.time_note == ""
    assert messages[-1]["content"].endswith(f"*As of {NEWEST} (the newest article's date)*")  # always said
    assert all_dates["visible"] is False  # dates played no part: nothing to remove


def test_as_of_set_in_the_options_is_used_and_said(events):
    session, (messages, _, _, all_dates, *_) = turn(events, "What did IBM say about facial recognition?",
                                                    as_of="2020-06-12")
    assert session.current.turns[0].answer.as_of == "2020-06-12"
    assert "*As of 2020-06-12 (as set in the options)*" in messages[-1]["content"]
    assert all_dates["visible"] is True  # a set date prefers the news of the week before it


def test_search_all_dates_asks_the_same_question_again_without_dates(events, assistant, monkeypatch):
    question = "What did IBM say about general purpose facial recognition in June 2020?"
    session, (messages, *_) = turn(events, question)
    calls = spy_on(assistant, monkeypatch)
    shown, stop = events.push_all_dates(session, DEFAULT_FORM | {"k": 4, "max_sentences": 2})
    assert shown[:2] == messages and shown[2] == {"role": "user", "content": f"{question} *(again, over all dates)*"}
    messages2, panel, article, all_dates, *_ = events.answer(session)
    assert len(calls) == 1 and calls[0]["question"] == question
    assert calls[0]["time_aware"] is False and calls[0]["history"] == []  # read as it was the first time
    assert (calls[0]["k"], calls[0]["max_sentences"]) == (4, 2)  # the options as they are now
    again = session.current.turns[-1].answer
    assert again.time_note == "" and again.time_window is None
    assert [m["role"] for m in messages2] == ["user", "assistant", "user", "assistant"]
    assert "all dates searched" in messages2[-1]["content"] and "#cite-1-1" in messages2[-1]["content"]
    assert 'data-turn="1"' in panel and article == views.article_placeholder()
    assert all_dates["visible"] is False


def test_search_all_dates_keeps_a_follow_up_read_as_before(events, assistant, monkeypatch):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    turn(events, "And Amazon in June 2020?", session)
    first = session.current.turns[0].answer
    calls = spy_on(assistant, monkeypatch)
    events.push_all_dates(session, DEFAULT_FORM)
    events.answer(session)
    assert calls[0]["question"] == "And Amazon in June 2020?" and calls[0]["history"] == [first]


def test_search_all_dates_without_an_answer_changes_nothing(events):
    assert events.push_all_dates(Session(), DEFAULT_FORM) == (gr.skip(), gr.skip())


def test_chronological_answer_lists_sentences_with_their_dates(events):
    session, (messages, *_) = turn(events, "timeline of police use of facial recognition")
    answer = session.current.turns[0].answer
    assert answer.chronological and len(answer.sentences) >= 2
    dates = [s.published_at for s in answer.sentences]
    assert dates == sorted(dates) and all(dates)
    assert answer.text.startswith(f"({dates[0]}) ")  # the engine's own text, for the API
    lines = messages[-1]["content"].split("\n\n")[0].split("\n")
    assert len(lines) == len(answer.sentences)
    for line, sentence in zip(lines, answer.sentences, strict=True):
        assert line.startswith(f"- **{sentence.published_at}** ")
        assert f"(#cite-0-{sentence.citation} " in line and line.endswith('")')
    assert "Listing answer sentences by date" in messages[-1]["content"]
    gr.Chatbot().postprocess(messages)  # still valid Chatbot data
