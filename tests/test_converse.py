"""Follow-up questions (assistant/converse.py): what a follow-up borrows from earlier turns."""

from __future__ import annotations

from assistant.converse import Turn, entities, resolve


def test_entities_are_the_capitalised_names_without_question_words():
    assert entities("What did Arvind Krishna tell IBM staff?") == ["Arvind Krishna", "IBM"]


def test_a_standalone_question_is_searched_as_asked():
    resolved = resolve("Which company paused police use of Rekognition?", [])
    assert resolved.query == "Which company paused police use of Rekognition?" and not resolved.is_follow_up


def test_a_pronoun_follow_up_borrows_the_previous_topic_and_its_articles():
    first = Turn("What did Amazon announce about Rekognition?", "What did Amazon announce about Rekognition?",
                 "Amazon announced a moratorium.", ("amazon",))
    resolved = resolve("What did civil liberties groups say about it?", [first])
    assert resolved.is_follow_up
    assert "Rekognition" in resolved.query and "Amazon" in resolved.query
    assert resolved.boost_article_ids == ("amazon",)
