"""Files and folders → Article records: titles, front matter, JSON/JSONL fields, dates, folders, HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.articles import Article, Problem
from index.load import load_all, normalize_date


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_one(path: Path) -> Article:
    result = load_all([str(path)])
    assert result.problems == []
    (article,) = result.articles
    return article


# --- plain text: titles -----------------------------------------------------------------------------------------


def test_headline_first_line_is_the_title(tmp_path):
    path = write(tmp_path / "bridge.txt", "Harbour bridge reopens after repairs\n\n"
                 "The bridge reopened on Tuesday. Engineers replaced the cables.\n")
    article = load_one(path)
    assert article.id == "bridge"
    assert article.title == "Harbour bridge reopens after repairs"
    assert article.body == "The bridge reopened on Tuesday. Engineers replaced the cables."
    assert article.path == str(path)


def test_sentence_first_line_is_not_a_title(tmp_path):
    text = "The bridge reopened on Tuesday after eight months.\nEngineers replaced the cables.\n"
    article = load_one(write(tmp_path / "b.txt", text))
    assert article.body == text.strip()  # nothing taken out of the body
    assert article.title == "The bridge reopened on Tuesday after eight months."  # fallback: the first line


def test_long_first_line_fallback_title_is_shortened(tmp_path):
    first = "This opening sentence runs on " + "and on " * 30 + "without ever finishing"
    article = load_one(write(tmp_path / "long.txt", first + "\n"))
    assert article.body == first
    assert len(article.title) <= 100 and article.title.endswith("...")


def test_single_line_file_keeps_its_line_as_body(tmp_path):
    article = load_one(write(tmp_path / "one.txt", "Only a headline here\n"))
    assert article.body == "Only a headline here" and article.title == "Only a headline here"


def test_markdown_heading_is_the_title_and_markup_goes(tmp_path):
    path = write(tmp_path / "news.md", "# Council approves the budget.\n\n"
                 "The council **approved** the [budget](https://example.org/b) on Monday.\n\n"
                 "![chart](chart.png)\n\n## Reaction\n\n- Residents welcomed it.\n")
    article = load_one(path)
    assert article.title == "Council approves the budget."  # a heading is a title even with a full stop
    assert article.body == "The council approved the budget on Monday.\n\nReaction\n\nResidents welcomed it."


# --- front matter -----------------------------------------------------------------------------------------------


def test_front_matter_fields(tmp_path):
    path = write(tmp_path / "fm.md", "---\nid: fm-1\ntitle: \"Rates held at 5%\"\nsource: Daily Planet\n"
                 "published_at: March 5, 2024\nauthors: Lois Lane; Clark Kent\nurl: https://planet.example/rates\n"
                 "---\n# Rates held\n\nThe central bank held rates on Tuesday. Markets were calm.\n")
    article = load_one(path)
    assert article.id == "fm-1"
    assert article.title == "Rates held at 5%"
    assert article.source == "Daily Planet"
    assert article.published_at == "2024-03-05"
    assert article.authors == ("Lois Lane", "Clark Kent")
    assert article.url == "https://planet.example/rates"
    assert article.path == str(path)
    # the heading is only a heading here (the title came from the front matter): no '#' left in the body
    assert article.body == "Rates held\n\nThe central bank held rates on Tuesday. Markets were calm."


@pytest.mark.parametrize("authors", [
    "authors: [Lois Lane, \"Clark Kent\"]",
    "authors:\n  - Lois Lane\n  - Clark Kent",
    "author: Lois Lane and Clark Kent",
])
def test_front_matter_author_lists(tmp_path, authors):
    path = write(tmp_path / "a.md", f"---\ntitle: T\n{authors}\n---\nBody sentence here.\n")
    assert load_one(path).authors == ("Lois Lane", "Clark Kent")


def test_front_matter_without_title_detects_it_from_the_text(tmp_path):
    path = write(tmp_path / "x.md", "---\nsource: Wire\n---\nStorm hits coast\n\nA storm hit the coast overnight.\n")
    article = load_one(path)
    assert (article.title, article.body, article.source) == ("Storm hits coast", "A storm hit the coast overnight.",
                                                              "Wire")
    assert article.id == "x"


# --- JSON and JSONL ---------------------------------------------------------------------------------------------


def test_json_list_ids(tmp_path):
    path = write(tmp_path / "batch.json", json.dumps([
        {"title": "First", "body": "First body."},
        {"id": "given-id", "title": "Second", "body": "Second body."},
        {"title": "Third", "text": "Third body, under 'text'."},
    ]))
    result = load_all([str(path)])
    assert [a.id for a in result.articles] == ["batch-1", "given-id", "batch-3"]
    assert [a.title for a in result.articles] == ["First", "Second", "Third"]
    assert result.articles[2].body == "Third body, under 'text'."
    assert all(a.path == str(path) for a in result.articles)


def test_json_list_bad_item_names_the_item(tmp_path):
    path = write(tmp_path / "batch.json", json.dumps([{"title": "ok", "body": "Fine."}, {"title": "no body"}]))
    result = load_all([str(path)])
    assert [a.id for a in result.articles] == ["batch-1"]
    (problem,) = result.problems
    assert problem.where == f"{path} (item 2)" and "no body" in problem.reason


def test_json_single_object(tmp_path):
    path = write(tmp_path / "solo.json", json.dumps({"title": "Solo", "content": "Solo body.", "author": "A. Writer",
                                                     "date": "2023-12-31T23:00:00Z", "sitename": "Site"}))
    article = load_one(path)
    assert (article.id, article.title, article.body) == ("solo", "Solo", "Solo body.")
    assert article.authors == ("A. Writer",) and article.published_at == "2023-12-31" and article.source == "Site"


def test_jsonl_fields_and_authors(tmp_path):
    records = [
        {"id": "n1", "title": "Rates rise", "source": "Wire", "published_at": "2024-03-05T10:00:00Z",
         "url": "https://wire.example/n1", "authors": ["Ann Lee", "Bo Chen"], "body": "Rates rose. Again."},
        {"title": "No id here", "authors": "Cy Young and Di Park", "body": "Second article body.",
         "published_at": "5 March 2024"},
        {"id": "n3", "title": "", "authors": "Ed Ng; Flo Ray, Gil Ma", "body": "Untitled first line\nMore text."},
    ]
    path = write(tmp_path / "feed.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    result = load_all([str(path)])
    assert result.problems == []
    n1, n2, n3 = result.articles
    assert n1 == Article("n1", "Rates rise", "Rates rose. Again.", "Wire", ("Ann Lee", "Bo Chen"), "2024-03-05",
                         "https://wire.example/n1", str(path))
    assert n2.id == "feed-2" and n2.authors == ("Cy Young", "Di Park") and n2.published_at == "2024-03-05"
    assert n2.url is None and n2.source == ""
    assert n3.authors == ("Ed Ng", "Flo Ray", "Gil Ma")
    assert n3.title == "Untitled first line"  # no title given: the first line of the body


def test_jsonl_body_is_cleaned_of_furniture(tmp_path):
    body = "Share this article\nThe vote passed on Monday.\n\nSubscribe to our newsletter\n\nTurnout was high."
    path = write(tmp_path / "f.jsonl", json.dumps({"id": "f", "title": "Vote", "body": body}) + "\n")
    assert load_one(path).body == "The vote passed on Monday.\n\nTurnout was high."


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-05", "2024-03-05"),
    ("2024-03-05T23:30:00-05:00", "2024-03-05"),
    ("5 March 2024", "2024-03-05"),
    ("March 5, 2024", "2024-03-05"),
    ("Tue, 05 Mar 2024 10:00:00 GMT", "2024-03-05"),
    ("Sept. 9, 2021", "2021-09-09"),
    ("March 2024", "2024-03-01"),
    ("2024", None),  # a year alone is not a date (dateparser would invent today's month and day)
    ("not a date", None),
    ("", None),
    (None, None),
    (20240305, None),
])
def test_date_normalisation(value, expected):
    assert normalize_date(value) == expected


# --- folders ----------------------------------------------------------------------------------------------------


def test_folder_is_read_recursively_with_path_ids(tmp_path):
    root = tmp_path / "corpus"
    write(root / "a.txt", "Alpha headline\n\nAlpha body.\n")
    write(root / "world" / "europe" / "b.md", "Beta headline\n\nBeta body.\n")
    write(root / ".hidden.txt", "Hidden headline\n\nShould not be read.\n")
    write(root / ".git" / "notes.txt", "Git internals\n\nShould not be read either.\n")
    result = load_all([str(root)])
    assert [a.id for a in result.articles] == ["a", "world/europe/b"]
    assert result.problems == []


def test_non_utf8_text_is_decoded_with_a_note(tmp_path):
    text = "Caf\u00e9 prices rise\n\nThe caf\u00e9 raised prices by 10%.\n"
    path = write(tmp_path / "cafe.txt", text.encode("cp1252"))
    result = load_all([str(path)])
    (article,) = result.articles
    assert article.title == "Caf\u00e9 prices rise" and article.body == "The caf\u00e9 raised prices by 10%."
    (note,) = result.problems
    assert note.where == str(path) and "not valid UTF-8" in note.reason


# --- HTML -------------------------------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>Harbour bridge reopens | Daily Planet</title>
<meta property="og:title" content="Harbour bridge reopens after repairs">
<meta name="author" content="Lois Lane"><meta property="article:published_time" content="2024-03-05T08:00:00Z">
<meta property="og:site_name" content="Daily Planet">
<script>var tracking = "SCRIPTTEXT";</script><style>.x{color:red}</style></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">NAVLINK Sport</a></nav>
<article><h1>Harbour bridge reopens after repairs</h1>
<p>The harbour bridge reopened to traffic on Tuesday after eight months of repairs that cost 12.5 million dollars.</p>
<p>Engineers replaced the corroded steel cables and resurfaced the deck, the transport department said.</p>
<p>Commuters welcomed the reopening, which cuts journey times between north and south by forty minutes.</p>
<p>Share this article</p>
<p>Mayor Perry White said the project finished two weeks ahead of schedule and under budget.</p>
</article>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>COMMENTTEXT I think this bridge is a terrible idea.</p></div></section>
<footer>FOOTERTEXT contact us</footer><script>console.log("MORESCRIPT")</script></body></html>"""


def test_html_main_text_and_metadata(tmp_path):
    article = load_one(write(tmp_path / "bridge.html", PAGE))
    assert article.id == "bridge"
    assert article.title == "Harbour bridge reopens after repairs"
    assert article.authors == ("Lois Lane",)
    assert article.published_at == "2024-03-05"
    assert article.source == "Daily Planet"
    assert "Engineers replaced the corroded steel cables" in article.body
    assert "Mayor Perry White said" in article.body
    for furniture in ("SCRIPTTEXT", "MORESCRIPT", "NAVLINK", "COMMENTTEXT", "color:red", "Share this article"):
        assert furniture not in article.body


def test_missing_path_is_a_problem_not_an_error(tmp_path):
    result = load_all([str(tmp_path / "nope.txt")])
    assert result.articles == [] and result.problems == [Problem(str(tmp_path / "nope.txt"), "no such file or folder")]
