"""What kind of answer a question wants, and whether a sentence offers one (assistant/answer_type.py)."""

from __future__ import annotations

from assistant.answer_type import expected_type, offers


def test_question_kinds():
    assert expected_type("How many people were evacuated?") == "number"
    assert expected_type("When did the bridge reopen?") == "date"
    assert expected_type("Who wrote the letter to Congress?") == "person"
    assert expected_type("Where did the storm make landfall?") == "place"
    assert expected_type("Why did the company leave the market?") == "reason"
    assert expected_type("What did the company say?") is None


def test_a_sentence_offers_only_what_the_question_does_not_already_say():
    q = "How many jobs will the plant add in 2024?"
    assert offers("The plant will add 300 jobs.", "number", q)
    assert not offers("In 2024 the plant opens", "number", q)  # only the question's own number
    assert offers("Chief executive Arvind Krishna wrote the letter.", "person", "Who wrote the letter?")
    assert not offers("The letter was long.", "person", "Who wrote the letter?")
    assert not offers("Anything at all.", None, "Why?")


def test_by_how_much_asks_for_a_difference_not_a_sum_of_money():
    q = "By how much were false positives higher for Asian faces?"
    assert expected_type(q) == "number"
    assert offers("False positives were 10 to 100 times higher for Asian faces.", "number", q)
    assert expected_type("How much did the club pay for the striker?") == "amount"
    assert expected_type("By how much did the shares fall?") == "number"
