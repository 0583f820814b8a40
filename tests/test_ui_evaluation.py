"""ui/evaluation.py through Events.evaluate: a bundled question set, an uploaded file (only files inside the
upload folder) or synthetic questions, run against the current index; every problem one clear message;
the saved report restored. Fake encoder, tiny temporary index."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ui import evaluation
from ui.evaluation import DEMO_DATASET, SOURCE_FILE, SOURCE_SYNTHETIC, SOURCE_UPLOAD, problems_of


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    """Gradio's upload folder for these tests: files written here count as uploaded through the tab."""
    folder = tmp_path / "gradio-uploads"
    folder.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


EVAL_QUESTIONS = [
    {"id": "q1", "question": "What did IBM say about general purpose facial recognition software?",
     "answer": "general purpose", "evidence": [{"article_id": "ibm"}], "question_date": "2020-06-12"},
    {"id": "q2", "question": "Which company announced a one year moratorium on police use of Rekognition?",
     "answer": "Amazon", "evidence": [{"article_id": "amazon"}]},
    {"id": "q3", "question": "What may happen to ferries if gusts exceed sixty miles per hour?",
     "answer": "purple elephants", "evidence": [{"article_id": "weather"}]},  # a planted answer failure
    {"id": "q4", "question": "Who won the chess olympiad in Zagreb?", "type": "unanswerable"},
]


def write_questions(folder, rows=EVAL_QUESTIONS, name="questions.jsonl"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def is_cleared(outputs) -> bool:
    _, report, plot, failures = outputs
    return report == "" and plot is None and failures == []


def test_evaluation_runs_an_uploaded_questions_file(events, uploads):
    calls = []
    status, report, plot, failures = events.evaluate(
        SOURCE_UPLOAD, None, ["keyword", "hybrid"], "all", True, progress=lambda *a, **k: calls.append(a[0]),
        upload=str(write_questions(uploads / "abc123", name="mine.jsonl")))
    assert status.startswith("Evaluated 4 questions from mine.jsonl in 2 mode(s) (hybrid, keyword)")
    assert "2 failure(s) on 1 question(s)" in status and "Traceback" not in status
    assert calls[0] == (0, 8) and calls[-1] == (7, 8)  # one step per question and mode
    assert report.startswith("#### Evaluation: mine") and "| metric | hybrid | keyword |" in report
    assert "| recall@5 | 1.000 | 1.000 |" in report
    assert Path(plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(plot).parent.joinpath("report.md").is_file()
    assert Path(plot).resolve().is_relative_to(evaluation.REPORTS_ROOT.resolve())
    assert [row[0] for row in failures] == ["hybrid", "keyword"]
    mode, question, gold, expected, rank, produced, problem = failures[0]
    assert (question, gold, expected, rank) == (EVAL_QUESTIONS[2]["question"], "weather", "purple elephants", "1")
    assert "Ferries may be cancelled" in produced and problem == "expected answer missing"


def test_evaluation_failure_kinds():
    def result(**kw):
        base = dict(unanswerable=False, abstained=False, first_relevant_rank=1, answer_in_answer=True)
        return SimpleNamespace(**(base | kw))

    assert problems_of(result()) == []
    assert problems_of(result(first_relevant_rank=6)) == ["gold article not in the top 5"]
    assert problems_of(result(first_relevant_rank=None, answer_in_answer=None)) == ["gold article not in the top 5"]
    assert problems_of(result(abstained=True, answer_in_answer=False)) == ["abstained on an answerable question"]
    assert problems_of(result(answer_in_answer=False)) == ["expected answer missing"]
    assert problems_of(result(unanswerable=True, first_relevant_rank=None)) == ["answered an unanswerable question"]
    assert problems_of(result(unanswerable=True, abstained=True, first_relevant_rank=None)) == []


def test_evaluation_failure_rows_show_expected_and_produced(events, uploads, monkeypatch):
    from assistant.engine import AskSettings as Settings

    monkeypatch.setattr(events.assistant, "settings", Settings(abstain_threshold=2.0))  # abstains on everything
    _, _, _, failures = events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], 2, True, upload=str(write_questions(uploads)))
    assert [row[1] for row in failures] == [EVAL_QUESTIONS[0]["question"], EVAL_QUESTIONS[1]["question"]]
    assert failures[0][3:] == ["general purpose", "1", "(abstained)", "abstained on an answerable question"]


def test_evaluation_of_synthetic_questions_from_this_index(events):
    status, report, plot, failures = events.evaluate(SOURCE_SYNTHETIC, "ignored", ["dense"], 4, False)
    assert status.startswith("Evaluated 4 synthetic questions drawn from this index in 1 mode(s) (dense)")
    assert "| metric | dense-notime |" in report and "(synthetic questions)" in report and Path(plot).is_file()


def test_dataset_with_its_own_articles_is_left_to_the_cli(events, uploads, monkeypatch):
    import eval.runs

    monkeypatch.setattr(eval.runs, "run_question", lambda *a: pytest.fail("must not run"))
    questions = write_questions(uploads / "rtqa")
    (uploads / "rtqa" / "articles.jsonl").write_text('{"id": "x", "title": "t", "body": "b"}\n')
    outputs = events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], None, True, upload=str(questions))
    assert "brings its own articles (articles.jsonl beside it)" in outputs[0]
    assert "assistant eval" in outputs[0] and is_cleared(outputs)


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/hostname", str(DEMO_DATASET), "demo_questions",
                                  "data/demo_questions.jsonl"])
def test_only_bundled_sets_are_read_by_name(events, path, monkeypatch):
    import eval.datasets

    monkeypatch.setattr(eval.datasets, "load_dataset", lambda *a: pytest.fail("must not be opened"))
    outputs = events.evaluate(SOURCE_FILE, path, ["hybrid"], None, True)
    assert "is not one of the bundled question sets" in outputs[0] and is_cleared(outputs)


def test_uploads_outside_the_upload_folder_are_refused(events, uploads, tmp_path):
    outside = write_questions(tmp_path / "elsewhere")
    for upload in (str(outside), "/etc/passwd", str(uploads / ".." / "elsewhere" / "questions.jsonl")):
        outputs = events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], None, True, upload=upload)
        assert "Only files uploaded through this tab" in outputs[0] and is_cleared(outputs)
    assert "no longer on the server" in events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], None, True,
                                                        upload=str(uploads / "gone.jsonl"))[0]
    big = uploads / "big.jsonl"
    big.write_bytes(b" " * (evaluation.MAX_QUESTIONS_BYTES + 1))
    assert "larger than the 5 MB limit" in events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], None, True,
                                                           upload=str(big))[0]
    wrong = uploads / "questions.csv"
    wrong.write_text("a,b\n")
    assert "expected a questions .jsonl file" in events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], None, True,
                                                                 upload=str(wrong))[0]


def test_saved_report_comes_back_and_only_from_the_report_folder(events, uploads):
    outcome = evaluation.run_evaluation(events.assistant, SOURCE_UPLOAD, None, ["hybrid"], None,
                                        upload=str(write_questions(uploads)))
    saved = json.loads(json.dumps(evaluation.saved_report(outcome)))  # as the browser keeps it
    status, report, plot, failures = evaluation.restore_report(saved)
    assert (status, report, plot, failures) == (outcome.message, outcome.report_md, outcome.plot, outcome.failures)
    assert evaluation.restore_report(saved | {"plot": "/etc/passwd"})[2] is None
    assert evaluation.restore_report(None) == ("", "", None, [])


def test_demo_questions_are_the_default_and_refused_on_another_index(events):
    assert DEMO_DATASET.is_file() and DEMO_DATASET.name in evaluation.bundled_sets()
    outputs = events.evaluate(SOURCE_FILE, DEMO_DATASET.name, ["hybrid"], None, True)
    assert outputs[0].startswith("None of the dataset's") and "demo corpus" in outputs[0] and is_cleared(outputs)


def test_question_limit_judges_only_the_questions_run(events, uploads):
    rows = EVAL_QUESTIONS[:2] + [{"id": "q9", "question": "What did Nokia say?", "answer": "x",
                                  "evidence": [{"article_id": "not-indexed"}]}]
    status, report, _, failures = events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], "2", True,
                                                  upload=str(write_questions(uploads, rows)))
    assert status.startswith("Evaluated 2 questions") and "not in this index" not in status and failures == []
    assert "2 questions; index:" in report and "| recall@5 | 1.000 |" in report  # not averaged over all 3


def test_dataset_partly_about_other_articles_is_run_with_a_note(events, uploads):
    rows = EVAL_QUESTIONS[:2] + [{"id": "q9", "question": "What did Nokia say?", "answer": "x",
                                  "evidence": [{"article_id": "not-indexed"}]}]
    status, _, _, failures = events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], "all", True,
                                             upload=str(write_questions(uploads, rows)))
    assert "1 of 3 gold articles are not in this index" in status
    assert failures[-1][1:5] == ["What did Nokia say?", "not-indexed", "x", "not retrieved"]


@pytest.mark.parametrize(("setup", "modes", "limit", "expected"), [
    (lambda d: d.joinpath("bad.jsonl").write_text('{"id": "a", "question": "b"\n') and d / "bad.jsonl",
     ["hybrid"], None, "bad.jsonl:1: invalid JSON"),
    (lambda d: d.joinpath("list.jsonl").write_text("[1, 2]\n") and d / "list.jsonl", ["hybrid"], None,
     "list.jsonl:1: expected a JSON object"),
    (lambda d: d.joinpath("no-gold.jsonl").write_text('{"id": "a", "question": "b"}\n') and d / "no-gold.jsonl",
     ["hybrid"], None, "no usable questions"),
    (lambda d: None, ["hybrid"], None, "Upload a questions file (.jsonl) first"),
    (lambda d: write_questions(d), [], None, "Choose at least one retrieval mode"),
    (lambda d: write_questions(d), ["magic"], None, "Unknown retrieval mode 'magic'"),
    (lambda d: write_questions(d), ["hybrid"], -1, "question limit must be a whole number"),
    (lambda d: write_questions(d), ["hybrid"], 2.5, "question limit must be a whole number"),
    (lambda d: write_questions(d), ["hybrid"], "some", "question limit must be a whole number or “all”"),
])
def test_evaluation_problems_are_one_clear_message(events, uploads, setup, modes, limit, expected):
    made = setup(uploads)
    outputs = events.evaluate(SOURCE_UPLOAD, None, modes, limit, True, upload=str(made) if made else None)
    assert expected in outputs[0] and "Traceback" not in outputs[0] and len(outputs[0].splitlines()) == 1
    assert is_cleared(outputs)


def test_evaluation_engine_failure_is_one_line(events, uploads, monkeypatch):
    def broken(question, **kwargs):
        raise RuntimeError("the index is locked")

    monkeypatch.setattr(events.assistant, "ask", broken)
    outputs = events.evaluate(SOURCE_UPLOAD, None, ["hybrid"], None, True, upload=str(write_questions(uploads)))
    assert outputs[0] == "The evaluation failed: RuntimeError: the index is locked" and is_cleared(outputs)
