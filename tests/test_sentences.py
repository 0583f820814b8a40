"""Sentence splitting: pysbd handles abbreviations, decimals and quotes; offsets always index the body."""

from __future__ import annotations

import pytest

from index.sentences import split_sentences


def texts(body: str) -> list[str]:
    sentences = split_sentences(body)
    for s in sentences:
        assert body[s.start:s.end] == s.text
    return [s.text for s in sentences]


def test_abbreviations_do_not_end_sentences():
    body = "Mr. Smith met Dr. Jones in the U.S. capital on Monday. They discussed the U.K. economy."
    assert texts(body) == ["Mr. Smith met Dr. Jones in the U.S. capital on Monday.",
                           "They discussed the U.K. economy."]


def test_decimals_and_money_do_not_end_sentences():
    body = "Prices rose 3.7% in Jan. and fell in Feb. A coffee costs $1.50 now. Growth was 2.5 percent."
    assert texts(body) == ["Prices rose 3.7% in Jan. and fell in Feb.", "A coffee costs $1.50 now.",
                           "Growth was 2.5 percent."]


def test_quotes_stay_with_their_sentence():
    body = '"We are pleased," she said. "Growth is strong." He replied: "It is over!" Then he left.'
    assert texts(body) == ['"We are pleased," she said.', '"Growth is strong."', 'He replied: "It is over!"',
                           "Then he left."]


def test_question_exclamation_and_ellipsis():
    assert texts("Is it over? Yes! Well... we will see.") == ["Is it over?", "Yes!", "Well... we will see."]


def test_lines_and_paragraphs_are_hard_boundaries():
    body = "Headline without a full stop\nFirst sentence of the story. Second one.\n\nNew paragraph here"
    assert texts(body) == ["Headline without a full stop", "First sentence of the story.", "Second one.",
                           "New paragraph here"]


@pytest.mark.parametrize("body", [
    "",
    "   ",
    "One sentence only",
    "Café owners in Zürich — and Śródmieście — raised prices 5.5%. 😀 Customers shrugged.",
    "  Leading spaces.  Double  spaces   inside.\n\n\n  Indented paragraph. ",
    "Visit example.com for more. E-mail j.doe@example.org today. See p. 5 and fig. 2.",
    "The 1990s ended. In 2000, the U.S.A. entered a new era! Did it? (Perhaps.)",
])
def test_offsets_are_exact_ordered_and_disjoint(body):
    sentences = split_sentences(body)
    previous_end = 0
    for s in sentences:
        assert body[s.start:s.end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.start >= previous_end
        previous_end = s.end
    # every non-space character of the body belongs to some sentence
    covered = {i for s in sentences for i in range(s.start, s.end)}
    assert all(ch.isspace() for i, ch in enumerate(body) if i not in covered)


def test_offsets_into_a_real_article_body():
    body = ("Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m) for the three months "
            "to December, from $639m year-earlier.\n\nThe firm, which is now one of the biggest investors in "
            "Google, benefited from sales of high-speed internet connections. It said sales rose 2% to $11.1bn.")
    sentences = split_sentences(body)
    assert len(sentences) == 3
    assert sentences[1].start == body.index("The firm")
    assert sentences[2].text == "It said sales rose 2% to $11.1bn."
