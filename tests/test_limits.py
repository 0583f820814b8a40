"""Limits with one-line messages (issue 14, cases 11-14 and 18): dates out of range, broken text in a
question, empty or over-long questions, inverted date ranges, deeply nested JSON, text without sentence
punctuation. Each is refused (or cleaned) with the project's own error, never a raw exception."""

from __future__ import annotations

import json
from datetime import date

import pytest

import assistant.commands
from assistant.cli import main
from assistant.engine import Assistant
from assistant.errors import BadRequest, UserError
from assistant.limits import MAX_QUESTION_CHARS
from assistant.results import Filters
from assistant.timeframe import anchor_to, parse_timeframe
from index.chunk import ChunkSettings, make_chunks
from index.filters import FilterError
from index.ingest import build_index
from index.load import MAX_JSON_DEPTH, load_all
from index.sentences import MAX_SENTENCE_CHARS, split_sentences
from tests.fakes import NEWS_ARTICLES, FakeEncoder


@pytest.fixture(scope="module")
def news_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("news")
    for name, text in NEWS_ARTICLES.items():
        (folder / name).write_text(text)
    index_dir = tmp_path_factory.mktemp("index") / "index"
    build_index([str(folder)], index_dir, FakeEncoder())
    return index_dir


@pytest.fixture(scope="module")
def engine(news_index):
    engine = Assistant.load(news_index, encoder=FakeEncoder())
    yield engine
    engine.close()


@pytest.fixture
def cli(news_index, monkeypatch, capsys):
    """`assistant ...` in-process with the fake model; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())

    def run(*args: str):
        code = main([*args, "--index", str(news_index)])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def one_line(err: BaseException) -> str:
    message = str(err)
    assert message and "\n" not in message
    return message


# --- case 11: dates far from today --------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["0001-01-01", "9999-12-31", date(1, 1, 1), date(9999, 12, 31), "1899-12-31"])
@pytest.mark.parametrize("question", ["What happened this month?", "What happened today?", "IBM Congress"])
def test_as_of_out_of_range_is_refused_in_one_line(engine, as_of, question):
    with pytest.raises(BadRequest) as err:
        engine.ask(question, as_of=as_of)
    assert "outside 1900-01-01 to 2100-12-31" in one_line(err.value)


@pytest.mark.parametrize("as_of", ["1900-01-01", "2100-12-31"])
@pytest.mark.parametrize("question", ["What happened this month?", "What happened today?",
                                      "What happened in the past 999 decades?", "news from 999 years ago"])
def test_as_of_at_the_bounds_answers(engine, as_of, question):
    answer = engine.ask(question, as_of=as_of)
    assert answer.as_of == as_of


@pytest.mark.parametrize("as_of", [date(1, 1, 1), date(9999, 12, 31)])
@pytest.mark.parametrize("question", ["this month", "today", "in the last 999 years", "the past 999 decades"])
def test_timeframe_never_overflows_at_the_ends_of_the_calendar(as_of, question):
    frame = anchor_to(parse_timeframe(question, as_of), as_of)
    frame.describe()  # no window it cannot name, and no OverflowError


def test_cli_as_of_out_of_range(cli):
    code, out, err = cli("ask", "What happened this month?", "--as-of", "9999-12-31")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == ["error: the 'as of' date 9999-12-31 is outside 1900-01-01 to 2100-12-31"]


# --- case 12: broken text in a question ---------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["IBM \ud800 Congress?", "\udcff\udcfeIBM Congress", "IBM\x00\x07 Congress\x1b?",
                                      "face recognition \udc80"])
def test_lone_surrogates_and_controls_are_cleaned(engine, question):
    answer = engine.ask(question)
    assert "\ud800" not in answer.question and "\x00" not in answer.question
    answer.to_dict()
    json.dumps(answer.to_dict())  # serialisable: no surrogate left anywhere


def test_question_must_be_text(engine):
    with pytest.raises(BadRequest, match="the question must be text, not int"):
        engine.ask(42)


def test_cli_question_with_invalid_utf8(cli):
    # argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)
    code, out, err = cli("ask", b"IBM \xff\xfe Congress?".decode("utf-8", "surrogateescape"), "--json")
    assert code == 0 and "Traceback" not in err
    assert json.loads(out)["question"] == "IBM \ufffd\ufffd Congress?"


# --- case 18 and the length limit: empty questions, inverted ranges, long questions -------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_question_is_refused(engine, question):
    with pytest.raises(BadRequest) as err:
        engine.ask(question)
    assert one_line(err.value) == "the question is empty"


def test_question_over_the_limit_is_refused(engine):
    assert engine.ask("IBM " * (MAX_QUESTION_CHARS // 4)).question  # exactly at the limit (stripped)
    with pytest.raises(BadRequest, match=f"the limit is {MAX_QUESTION_CHARS:,}"):
        engine.ask("IBM " * MAX_QUESTION_CHARS)


def test_inverted_or_malformed_date_range_is_refused():
    with pytest.raises(FilterError, match=r"the date range is empty \(2021-01-01 is after 2020-01-01\)"):
        Filters(date_from="2021-01-01", date_to="2020-01-01")
    with pytest.raises(ValueError, match="the 'from' date must look like 2020-06-10"):
        Filters(date_from="June 2020")
    assert Filters(date_from="2020-01-01", date_to="2020-01-01").date_to == "2020-01-01"
    assert Filters(date_from="", date_to=None).is_empty()


@pytest.mark.parametrize(("args", "message"), [
    (("ask", ""), "error: the question is empty"),
    (("ask", "  "), "error: the question is empty"),
    (("ask", "IBM", "--from", "2021-01-01", "--to", "2020-01-01"),
     "error: the date range is empty (2021-01-01 is after 2020-01-01)"),
    (("ask", "x" * (MAX_QUESTION_CHARS + 1)), f"the limit is {MAX_QUESTION_CHARS:,}"),
])
def test_cli_refuses_with_exit_2(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert message in line


def test_bad_request_is_a_user_error_and_a_value_error():
    assert issubclass(BadRequest, UserError) and issubclass(BadRequest, ValueError)


# --- case 13: deeply nested JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_deeply_nested_json_is_one_problem_and_the_rest_ingests(tmp_path, suffix):
    deep = tmp_path / f"deep{suffix}"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")  # 200 KB: RecursionError in json.loads
    also_deep = tmp_path / f"meta{suffix}"
    nested = {"id": "m", "title": "T", "body": "Body text.", "tags": json.loads("[" * 40 + "]" * 40)}
    also_deep.write_text(json.dumps(nested) + "\n")
    good = tmp_path / "good.txt"
    good.write_text("River floods farmland\n\nThe river burst its banks near the village.\n")
    report = build_index([str(deep), str(also_deep), str(good)], tmp_path / "index", FakeEncoder())
    assert report.added == ["good"]
    where = {p.where.split(":")[0] if suffix == ".jsonl" else p.where: p.reason for p in report.skipped}
    assert set(where) == {str(deep), str(also_deep)}
    assert all(f"nested deeper than {MAX_JSON_DEPTH} levels" in reason for reason in where.values())


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({"id": "ok", "title": "[[[", "body": "Brackets " + "[" * 500 + " in text."}))
    result = load_all([str(path)])
    assert [a.id for a in result.articles] == ["ok"] and result.problems == []


# --- case 14: text without sentence punctuation -------------------------------------------------------------------


def test_a_megabyte_without_punctuation_is_split_at_the_cap():
    body = "word " * 199_999 + "end"
    sentences = split_sentences(body)
    assert all(len(s.text) <= MAX_SENTENCE_CHARS for s in sentences)
    assert all(body[s.start:s.end] == s.text for s in sentences)
    assert all(not s.text[0].isspace() and not s.text[-1].isspace() for s in sentences)
    assert " ".join(s.text for s in sentences) == body  # cut only at spaces, nothing lost
    assert len(sentences) >= len(body) // MAX_SENTENCE_CHARS
    chunks = make_chunks(body, sentences, [len(s.text.split()) for s in sentences], ChunkSettings())
    assert max(len(c.text) for c in chunks) <= MAX_SENTENCE_CHARS
    assert all(body[c.start:c.end] == c.text for c in chunks)


def test_a_long_run_without_spaces_is_cut_hard():
    body = "Start here. " + "x" * 2500 + " tail"
    sentences = split_sentences(body)
    assert [len(s.text) for s in sentences] == [11, 1000, 1000, 505]  # the rest fits: "x" * 500 + " tail"
    assert all(body[s.start:s.end] == s.text for s in sentences)


def test_answer_from_an_unpunctuated_article_is_bounded(tmp_path):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"id": "dump", "title": "Dump", "body": "giraffe keepers zoo " * 40_000}))
    encoder = FakeEncoder()
    build_index([str(path)], tmp_path / "index", encoder)
    engine = Assistant.load(tmp_path / "index", encoder=encoder)
    try:
        answer = engine.ask("giraffe keepers zoo")
        assert len(answer.text) < 4 * MAX_SENTENCE_CHARS
        assert all(len(p.text) <= MAX_SENTENCE_CHARS for p in answer.passages)
    finally:
        engine.close()


def test_lone_surrogates_in_json_fields_are_replaced(tmp_path):
    """Found by the fuzzer: JSON may escape a lone surrogate ("\\ud800"), which cannot be hashed or stored."""
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "s", "title": "Bad \\ud800 title", "body": "Body \\udfff text.",'
                    ' "authors": ["A \\ud83d"]}\n')
    report = build_index([str(path)], tmp_path / "index", FakeEncoder())
    assert report.added == ["s"]
    engine = Assistant.load(tmp_path / "index", encoder=FakeEncoder())
    try:
        article = engine.article("s")
        assert (article.title, article.body) == ("Bad \ufffd title", "Body \ufffd text.")
        assert article.authors == ("A \ufffd",)
    finally:
        engine.close()
