"""Conversations with the real bundled model on the demo corpus: the issue's follow-ups answer the new
question (not the previous answer again), nonsense and other languages abstain with their reason, and
topic-less time questions get a briefing (issue 12)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


def _spans(answer) -> set[tuple[str, int]]:
    return {(s.article_id, s.start) for s in answer.sentences}


@pytest.mark.parametrize(("first", "follow_up", "read_as", "article"), [
    ("Who is Joy Buolamwini?", "What did she find?", "What did Joy Buolamwini find?", ""),
    ("What did Brad Smith announce in June 2020?", "What did he say?", "What did Brad Smith say?", "microsoft-"),
    ("Who was Robert Williams?", "Why was he arrested?", "Why was Robert Williams arrested?",
     "robert-williams-wrongful-arrest"),
])
def test_the_issue_follow_ups_answer_the_new_question(demo, first, follow_up, read_as, article):
    previous = demo.ask(first)
    follow = demo.ask(follow_up, [previous])
    assert follow.query == read_as and follow.note == f"read as: {read_as}"
    assert not follow.abstained
    assert _spans(follow) - _spans(previous), "the follow-up only repeated the previous answer"
    assert any(p.article_id.startswith(article) for p in follow.passages[:3])
    for sentence in follow.sentences:
        assert demo.article(sentence.article_id).body[sentence.start:sentence.end] == sentence.text


def test_a_new_topic_is_not_read_as_a_follow_up(demo):
    previous = demo.ask("What did Amazon announce about Rekognition in June 2020?")
    answer = demo.ask("What did Maine's facial recognition law restrict?", [previous])
    assert answer.query == answer.question and not answer.note
    assert answer.passages[0].article_id == "maine-facial-recognition-law"


@pytest.mark.parametrize(("question", "reason"), [
    ("x" * 900, "does not look like words"),
    ("asdkjh qwpoeiru zxcmvn", "does not look like words"),
    ("Qui est Joy Buolamwini ?", "index holds English articles"),
    ("Wer ist Brad Smith?", "index holds English articles"),
    ("¿Qué anunció IBM en junio de 2020?", "index holds English articles"),
])
def test_gibberish_and_other_languages_abstain_even_after_a_topic(demo, question, reason):
    previous = demo.ask("Who is Joy Buolamwini?")
    answer = demo.ask(question, [previous])
    assert answer.abstained and answer.sentences == ()
    assert reason in answer.reason and reason in answer.text


@pytest.mark.parametrize(("question", "as_of", "window"), [
    ("What happened in June 2020?", None, ("2020-06-01", "2020-06-30")),
    ("What happened last month?", "2020-07-05", ("2020-06-01", "2020-06-30")),
    ("What's the latest news?", "2020-06-27", None),
])
def test_topic_less_time_questions_brief_on_the_window(demo, question, as_of, window):
    answer = demo.ask(question, as_of=as_of)
    assert answer.kind == "briefing" and not answer.abstained
    start, end = answer.time_window
    if window:
        assert (start, end) == window
    assert len(answer.stories) >= 3
    assert all(start <= c.passage.published_at <= end for c in answer.cited)
    dates = [s.published_at for s in answer.sentences]
    assert dates == sorted(dates, reverse=True)
    groups = demo.near_duplicates()
    leaders = [{groups.get(a, a) for a in story.article_ids} for story in answer.stories]
    assert sum(len(g) for g in leaders) == len(set().union(*leaders))  # no near-duplicate story twice
    assert answer.time_note.startswith("Main stories")


def test_latest_on_a_topic_puts_the_newest_article_first(demo):
    answer = demo.ask("Latest news about facial recognition")
    assert answer.kind == "briefing"
    dates = [s.published_at for s in answer.sentences]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] >= "2022-01-01"
