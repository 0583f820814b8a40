"""Each loader on small temporary files, bad input as one-line DatasetErrors, and the shared real datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.results import Filters
from eval.datasets import (
    DatasetError,
    Evidence,
    load_beir,
    load_dataset,
    load_questions,
    synthetic_questions,
)

SHARED = Path(__file__).parents[1].parent / "shared/datasets"


def write_jsonl(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


QUESTIONS = [
    {"id": "q1", "question": "Which show got a new season?", "answer": "Squid Game",
     "evidence": [{"article_id": "a1", "text": "Squid Game is coming back."}], "question_date": "2022-06-16"},
    {"id": "q2", "question": "Who won?", "answer": "Nobody", "evidence": [{"article_id": "a2", "text": None},
                                                                           {"article_id": "a3"}],
     "date": "2022-07-01T10:00:00"},
    {"id": "q3", "question": "What did the mayor say?", "answer": "x", "evidence": []},  # no gold: dropped
    {"id": "q4", "question": "What is the capital of Atlantis?", "answer": None, "evidence": [],
     "type": "unanswerable"},
]


def test_questions_format(tmp_path):
    path = write_jsonl(tmp_path / "quiz" / "questions.jsonl", QUESTIONS)
    write_jsonl(tmp_path / "quiz" / "articles.jsonl", [{"id": "a1", "title": "t", "body": "b"}])
    data = load_questions(path)
    assert data.name == "quiz" and data.kind == "questions" and not data.synthetic
    assert data.articles_path == tmp_path / "quiz" / "articles.jsonl"
    assert [q.id for q in data.questions] == ["q1", "q2", "q4"] and data.dropped == 1
    q1, q2, q4 = data.questions
    assert q1.evidence == (Evidence("a1", "Squid Game is coming back."),) and q1.date == "2022-06-16"
    assert q2.evidence == (Evidence("a2", None), Evidence("a3", None)) and q2.date == "2022-07-01"
    assert q4.unanswerable and q4.evidence == () and q4.answer is None
    assert data.qrels == {"q1": {"a1": 1}, "q2": {"a2": 1, "a3": 1}}  # unanswerable: not scored for retrieval
    assert load_dataset(path).questions == data.questions
    assert load_dataset(tmp_path / "quiz").questions == data.questions


def test_questions_articles_path(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:1])
    assert load_questions(path).articles_path is None and load_questions(path).name == "q"
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "a1"}])
    assert load_questions(path, articles=other).articles_path == other
    with pytest.raises(DatasetError, match="missing.jsonl: articles file not found"):
        load_questions(path, articles=tmp_path / "missing.jsonl")


@pytest.mark.parametrize(("bad", "problem"), [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ({"question": "no id?"}, "missing 'id'"),
    ({"id": "x", "question": ""}, "missing 'question' text"),
    ({"id": "x", "question": "q", "evidence": [{"text": "no article"}]}, "needs an 'article_id'"),
    ({"id": "x", "question": "q", "evidence": "a1"}, "'evidence' must be a list"),
    ({"id": "x", "question": "q", "evidence": [{"article_id": "a"}], "date": "last week"}, "not an ISO date"),
    ({"id": "q1", "question": "again", "evidence": [{"article_id": "a"}]}, "duplicate question id 'q1'"),
])
def test_bad_question_line_names_file_and_line(tmp_path, bad, problem):
    path = write_jsonl(tmp_path / "q.jsonl", [QUESTIONS[0], "", bad])
    with pytest.raises(DatasetError) as err:
        load_questions(path)
    message = str(err.value)
    assert message.startswith(f"{path}:3: ") and problem in message and "\n" not in message
    assert err.value.line == 3


def test_questions_without_any_usable_question(tmp_path):
    with pytest.raises(DatasetError, match="no usable questions"):
        load_questions(write_jsonl(tmp_path / "q.jsonl", [QUESTIONS[2]]))


def make_beir(folder: Path, qrels: str) -> Path:
    write_jsonl(folder / "corpus.jsonl", [{"_id": "d1", "title": "T1", "text": "x"}, {"_id": "d2", "text": "y"}])
    write_jsonl(folder / "queries.jsonl", [{"_id": "1", "text": "first?"}, {"_id": "2", "text": "second?"},
                                           {"_id": "3", "text": "train only"}])
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return folder


def test_beir_folder(tmp_path):
    folder = make_beir(tmp_path / "toy", "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td2\t2\n")
    data = load_beir(folder)
    assert data.kind == "beir" and data.name == "toy" and data.articles_path == folder / "corpus.jsonl"
    assert [q.id for q in data.questions] == ["1", "2"]  # query 3 is not judged in this split
    assert data.questions[0].text == "first?" and data.questions[0].evidence == (Evidence("d1"),)
    assert data.qrels == {"1": {"d1": 1, "d2": 0}, "2": {"d2": 2}}
    assert load_dataset(folder).qrels == data.qrels


@pytest.mark.parametrize(("qrels", "problem"), [
    ("query-id\tcorpus-id\tscore\n1\td1\n", "test.tsv:2: expected 3 tab-separated fields"),
    ("1\td1\thigh\n", "test.tsv:1: score 'high' is not an integer"),
    ("9\td1\t1\n", "1 judged queries are not in queries.jsonl (e.g. '9')"),
    ("query-id\tcorpus-id\tscore\n", "no relevance judgements"),
])
def test_bad_beir_qrels(tmp_path, qrels, problem):
    with pytest.raises(DatasetError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_beir(make_beir(tmp_path, qrels))


def test_beir_missing_split_and_unknown_paths(tmp_path):
    folder = make_beir(tmp_path / "toy", "1\td1\t1\n")
    with pytest.raises(DatasetError, match="dev.tsv: file not found"):
        load_beir(folder, split="dev")
    with pytest.raises(DatasetError, match="neither corpus.jsonl"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.jsonl")


ARTICLES = [
    ("b-2", "Council approves new bridge",
     "The council met on Monday.\nMembers voted nine to two to approve the new river bridge after a long debate. "
     "Short one.\nConstruction is expected to start next spring and to cost about forty million pounds in total."),
    ("a-1", None, "Lead sentence here.\nThe storm brought down power lines across three counties overnight, "
     "leaving thousands of homes without electricity."),
    ("c-3", "Only a title", "Too short.\nAlso short."),
]


def test_synthetic_questions_hold_out_one_sentence():
    data = synthetic_questions(ARTICLES, n=10, seed=0)
    assert data.synthetic and data.kind == "synthetic" and data.articles_path is None
    assert all(q.id.startswith("synthetic-") for q in data.questions)
    bodies = {article_id: body for article_id, _, body in ARTICLES}
    sentences = [q for q in data.questions if q.id.endswith("-sentence")]
    assert {q.evidence[0].article_id for q in sentences} == {"a-1", "b-2"}  # c-3 has no 8-40 word sentence
    for q in sentences:
        (evidence,) = q.evidence
        assert evidence.text == q.text and q.text in bodies[evidence.article_id]
        assert not bodies[evidence.article_id].startswith(q.text)  # never the lead sentence
        assert 8 <= len(q.text.split()) <= 40
        assert data.qrels[q.id] == {evidence.article_id: 1}
    titles = {q.text for q in data.questions if q.id.endswith("-title")}
    assert titles == {"Council approves new bridge", "Only a title"}
    assert len(data.qrels) == len(data.questions) == 4


def test_synthetic_questions_are_reproducible_and_sampled():
    first = synthetic_questions(ARTICLES, n=10, seed=3)
    assert synthetic_questions(list(reversed(ARTICLES)), n=10, seed=3) == first
    one = synthetic_questions(ARTICLES, n=1, seed=1, titles=False)
    assert len({q.evidence[0].article_id for q in one.questions}) <= 1
    assert all(q.id.endswith("-sentence") for q in one.questions)


@pytest.mark.skipif(not (SHARED / "scifact_beir").is_dir(), reason="shared datasets not present")
def test_real_scifact():
    data = load_dataset(SHARED / "scifact_beir")
    assert data.kind == "beir" and len(data.questions) == 300
    assert sum(len(docs) for docs in data.qrels.values()) == 339


@pytest.mark.skipif(not (SHARED / "realtimeqa_news").is_dir(), reason="shared datasets not present")
def test_real_realtimeqa():
    data = load_dataset(SHARED / "realtimeqa_news" / "questions.jsonl")
    assert len(data.questions) == 206 and data.dropped == 639 - 206
    assert len(data.qrels) == 206 and all(q.evidence and q.date for q in data.questions)
    assert sum(1 for q in data.questions if any(ev.text for ev in q.evidence)) == 161
    assert data.articles_path == SHARED / "realtimeqa_news" / "articles.jsonl"


def test_declared_splits_by_field_week_and_number(tmp_path):
    from eval.datasets import load_questions

    rows = [{"id": "20220617_0", "question": "q a", "evidence": [{"article_id": "a"}]},
            {"id": "20220624_1", "question": "q b", "evidence": [{"article_id": "b"}]},
            {"id": "demo-03", "question": "q c", "evidence": [{"article_id": "c"}]},
            {"id": "demo-04", "question": "q d", "evidence": [{"article_id": "d"}]},
            {"id": "x-9", "question": "q e", "evidence": [{"article_id": "e"}], "split": "test"}]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    every = {q.id: q.split for q in load_questions(path).questions}
    assert every == {"20220617_0": "dev", "20220624_1": "test", "demo-03": "dev", "demo-04": "test", "x-9": "test"}
    dev = load_questions(path, part="dev")
    assert [q.id for q in dev.questions] == ["20220617_0", "demo-03"] and dev.name == "q-dev"
    with pytest.raises(DatasetError, match="unknown part"):
        load_questions(path, part="train")


def test_leave_gold_out_asks_again_without_the_gold_article(tmp_path, fake_encoder):
    from assistant.engine import Assistant
    from eval.datasets import load_questions
    from eval.runs import Config, run_config
    from index.ingest import build_index
    from tests.fakes import NEWS_ARTICLES

    for name, text in NEWS_ARTICLES.items():
        (tmp_path / name).write_text(text)
    build_index([str(tmp_path)], tmp_path / "idx", fake_encoder)
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "q1", "question": "Which company paused police use of Rekognition?",
                                "evidence": [{"article_id": "amazon"}]}))
    from assistant.engine import AskSettings
    from tests.fakes import hand_model

    engine = Assistant.load(tmp_path / "idx", encoder=fake_encoder, settings=AskSettings(answer_model=hand_model()))
    result = run_config(engine, load_questions(path), Config(leave_gold_out=True))
    asked, left_out = result.questions
    assert not asked.left_out and asked.first_relevant_rank == 1
    assert left_out.left_out and left_out.unanswerable and left_out.id == "q1#left-out"
    assert "abstention_f1" in result.metrics and result.metrics["questions"] == 1
    without = engine.ask("Which company paused police use of Rekognition?",
                         filters=Filters(exclude_article_ids=("amazon",)))
    assert without.passages and all(p.article_id != "amazon" for p in without.passages)
    engine.close()
