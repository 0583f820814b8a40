"""The engine with the real bundled model on the demo corpus: paraphrases, key facts, abstention,
follow-ups that only work with the conversation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


@pytest.mark.parametrize(("question", "article", "fact"), [
    ("Which tech firm's boss told lawmakers it was quitting general-purpose face analysis?",
     "ibm-exits-facial-recognition", "IBM"),
    ("What has to happen before Microsoft sells face recognition to American police?",
     "microsoft-pauses-police-sales", "law"),
    ("How many members of Congress did Amazon's software wrongly match to arrest photos?",
     "aclu-rekognition-congress-test", "28"),
    ("What was the worst error rate for darker-skinned women in the MIT gender study?",
     "gender-shades-study", "34.7%"),
])
def test_paraphrased_question_finds_the_article_and_the_fact(demo, question, article, fact):
    answer = demo.ask(question)
    assert not answer.abstained
    assert article in [p.article_id for p in answer.passages[:3]]
    assert fact in answer.text
    for sentence in answer.sentences:
        assert demo.article(sentence.article_id).body[sentence.start:sentence.end] == sentence.text


@pytest.mark.parametrize("question", [
    "Who won the 2020 NBA Finals?",
    "What is the capital of Australia?",
])
def test_question_the_corpus_cannot_answer_abstains(demo, question):
    answer = demo.ask(question)
    assert answer.abstained
    assert answer.passages  # the closest passages are still offered


@pytest.mark.parametrize(("first", "follow_up", "article"), [
    ("What did IBM's chief executive write to Congress?", "What did he say about it?", "ibm-"),
    ("What did Amazon announce about Rekognition in June 2020?", "Who was still allowed to use it?",
     "amazon-"),
])
def test_follow_up_finds_the_article_only_with_the_conversation(demo, first, follow_up, article):
    previous = demo.ask(first)
    bare = demo.ask(follow_up)
    follow = demo.ask(follow_up, history=[previous])
    bare_top = bare.passages[0].article_id if bare.passages else ""  # refused: a pronoun and no topic
    assert not bare_top.startswith(article)
    assert not follow.abstained
    assert follow.cited[0].passage.article_id.startswith(article)  # the answer comes from that article


@pytest.mark.parametrize(("question", "article"), [
    ("What did Amazon say about its moratorium in June 2020?", "amazon-rekognition-moratorium"),
    ("What did Virginia decide about police facial recognition in 2021?", "virginia-bans-local-police-use"),
    ("What did IBM say about facial recognition in 2021?", "one-year-later-retrospective"),
])
def test_date_window_finds_the_article_that_the_bare_question_misses(demo, question, article):
    timed = demo.ask(question)
    plain = demo.ask(question, time_aware=False)
    assert timed.passages[0].article_id == article
    assert plain.passages[0].article_id != article
    assert timed.time_note.startswith("Searching articles from")
