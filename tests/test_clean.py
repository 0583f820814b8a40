"""Cleaning: whitespace, page furniture (without eating real sentences), 'About the Author' blocks, markdown."""

from __future__ import annotations

import pytest

from index.clean import (
    clean_plain_text,
    looks_like_title,
    normalize_whitespace,
    split_title,
    strip_furniture,
    strip_markdown,
)


def test_normalize_whitespace():
    raw = "\ufeffFirst  line\r\nsecond\tline\u00a0here \x07\r\n\r\n\r\n\n   \nNext paragraph.\rLast"
    assert normalize_whitespace(raw) == "First line\nsecond line here\n\nNext paragraph.\nLast"


@pytest.mark.parametrize("line", [
    "Subscribe on Apple Podcasts",
    "Subscribe to our newsletter",
    "Sign up for our daily briefing today",
    "Sign up for CNN's Wonder Theory science newsletter. Explore the universe with news on fascinating discoveries",
    "Share this article",
    "Share on Facebook",
    "Email this story to a friend",
    "Follow us on Twitter and Instagram",
    "Click here to read the full report",
    "Leave a comment",
    "View all comments",
    "12 comments",
    "Comments (3)",
    "Advertisement",
    "Read more: Why the bridge closed",
    "Related: Council budget vote",
    "Copyright 2024 The Daily Planet. All rights reserved.",
    "© Daily Planet Media",
    "We use cookies to improve your experience.",
])
def test_furniture_lines_are_dropped(line):
    text = f"The vote passed on Monday.\n{line}\n\nTurnout was high."
    assert strip_furniture(text) == "The vote passed on Monday.\n\nTurnout was high."


@pytest.mark.parametrize("sentence", [
    "Analysts say fewer households subscribe to cable television than a decade ago.",
    "Subscribers to the streaming service rose 10% in March.",
    "Sign up for the scheme closes on Friday, the council said.",
    "Register to vote by Friday, officials urged residents.",
    "Copyright law changes were approved by MPs on Tuesday.",
    "Share prices rose sharply on Monday.",
    "Print on demand is growing fast, the report said.",
    "Comments made by the minister caused an uproar.",
    "Subscribe now for unlimited access. The paper's readership has grown by 5% this year, its editor said.",
])
def test_real_sentences_are_kept(sentence):
    text = f"The vote passed on Monday.\n\n{sentence}\n\nTurnout was high."
    assert strip_furniture(text) == text


def test_about_the_author_heading_and_bio_are_dropped():
    text = "The vote passed on Monday.\n\nAbout the Author\n\nJane Doe covers city hall for the Planet."
    assert strip_furniture(text) == "The vote passed on Monday."


def test_about_the_author_block_does_not_eat_the_next_paragraph():
    # heading and biography in one paragraph: the paragraph after it is news and stays
    text = "The vote passed on Monday.\n\nAbout the author:\nJane Doe covers city hall.\n\nTurnout was high."
    assert strip_furniture(text) == "The vote passed on Monday.\n\nTurnout was high."


def test_long_paragraph_after_author_heading_is_kept():
    long_paragraph = "Turnout was high across the city. " * 20
    text = f"The vote passed.\n\nAbout the Author\n\n{long_paragraph.strip()}"
    assert strip_furniture(text) == f"The vote passed.\n\n{long_paragraph.strip()}"


def test_markdown_author_heading_is_dropped():
    text = strip_markdown("The vote passed on Monday.\n\n## About the Author\n\nJane Doe covers city hall.")
    assert strip_furniture(normalize_whitespace(text)) == "The vote passed on Monday."


@pytest.mark.parametrize(("line", "expected"), [
    ("Harbour bridge reopens after repairs", True),
    ("Why did the bridge close?", True),
    ("Markets slide as rates rise...", True),
    ("The bridge reopened on Tuesday.", False),
    ("Officials said:", False),
    ("", False),
    (" ".join(["word"] * 30), False),
])
def test_looks_like_title(line, expected):
    assert looks_like_title(line) is expected


def test_split_title_and_clean_plain_text():
    assert split_title("# Heading.\nBody.").title == "Heading."
    assert split_title("Headline\nBody.").body == "Body."
    assert split_title("No title here.\nBody.").title is None
    cleaned = clean_plain_text("Headline\r\n\r\nShare this article\r\nBody text.\r\n")
    assert (cleaned.title, cleaned.body) == ("Headline", "Body text.")
    assert clean_plain_text("Headline\n\nBody.", detect_title=False).title is None


def test_strip_markdown_keeps_words_drops_markup():
    md = ("# Title\n\nSee the [report](https://x.example) and ![img](a.png) **now**.\n\n"
          "> A quote.\n\n- one\n* two\n1. three\n\n### Section\n\nUse `code` here.")
    assert strip_markdown(md) == ("# Title\n\nSee the report and  now.\n\nA quote.\n\none\ntwo\nthree\n\n"
                                  "Section\n\nUse code here.")
    assert strip_markdown("# Title\n\nBody.", keep_first_heading=False) == "Title\n\nBody."
