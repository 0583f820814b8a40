"""Bad input: each case is one clear line naming the file (and line), ingestion goes on, nothing stored is lost."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from index.articles import Problem
from index.ingest import IngestReport, build_index
from index.store import EmbeddedStore
from tests.conftest import run_cli as shared_run_cli
from tests.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[1]
STORED = "Zoo welcomes giraffe\n\nThe city zoo welcomed a baby giraffe on Monday. Keepers named her Daisy.\n"
GOOD = "River floods farmland\n\nThe river burst its banks near the village. Farmers moved cattle uphill.\n"


@pytest.fixture
def stored(tmp_path, tmp_index, fake_encoder) -> Path:
    """An index that already holds one article, 'zoo'."""
    path = tmp_path / "stored" / "zoo.txt"
    path.parent.mkdir()
    path.write_text(STORED, encoding="utf-8")
    assert build_index([str(path)], tmp_index, fake_encoder).added == ["zoo"]
    return tmp_index


def assert_still_stored(index_dir: Path, encoder, expected: set[str] | None = None) -> None:
    """'zoo' is still there and searchable, and FAISS, BM25 and SQLite agree."""
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        ids = {a.id for a in snapshot.articles()}
        assert ids == (expected or {"zoo"})
        n_chunks = snapshot.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        assert snapshot.vectors.size == snapshot.keywords.size == n_chunks == snapshot.size
        positions, _ = snapshot.search_keyword("giraffe Daisy", 5)
        assert [snapshot.chunk(int(p)).article_id for p in positions] == ["zoo"]
        positions, _ = snapshot.search_dense(encoder.encode(["baby giraffe zoo keepers Daisy"])[0], 1)
        assert snapshot.chunk(int(positions[0])).article_id == "zoo"
    finally:
        snapshot.close()


def ingest_with_good(tmp_path: Path, index_dir: Path, encoder, *inputs: Path | str) -> IngestReport:
    """Ingest the bad inputs followed by a good article: the good one must still get in."""
    good = tmp_path / "good" / "flood.txt"
    good.parent.mkdir(exist_ok=True)
    good.write_text(GOOD, encoding="utf-8")
    report = build_index([str(p) for p in inputs] + [str(good)], index_dir, encoder)
    assert report.added[-1:] == ["flood"]
    assert_still_stored(index_dir, encoder, {"zoo", *report.added})
    return report


def only_problem(report: IngestReport) -> Problem:
    (problem,) = report.skipped
    assert "\n" not in str(problem) and problem.reason
    return problem


def test_empty_file(tmp_path, stored, fake_encoder):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem == Problem(str(path), "empty file")


def test_whitespace_only_file(tmp_path, stored, fake_encoder):
    path = tmp_path / "blank.md"
    path.write_text(" \n\n\t\n")
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem.where == str(path) and "empty" in problem.reason


@pytest.mark.parametrize("name", ["image.txt", "data.jsonl", "page.html", "list.json"])
def test_binary_file(tmp_path, stored, fake_encoder, name):
    path = tmp_path / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem == Problem(str(path), "binary file, not text")


def test_non_utf8_text_is_decoded_and_stored_with_a_note(tmp_path, stored, fake_encoder):
    path = tmp_path / "cafe.txt"
    path.write_bytes("Caf\u00e9 prices rise\n\nThe caf\u00e9 on the corner raised prices by 10%.\n".encode("cp1252"))
    report = build_index([str(path)], stored, fake_encoder)
    assert report.added == ["cafe"] and report.skipped == []
    (note,) = report.notes
    assert note.where == str(path) and "not valid UTF-8" in note.reason and "\n" not in str(note)
    assert f"note: {path}: not valid UTF-8" in report.summary()
    snapshot = EmbeddedStore.open(stored).snapshot()
    assert snapshot.article("cafe").body == "The caf\u00e9 on the corner raised prices by 10%."
    assert_still_stored(stored, fake_encoder, {"zoo", "cafe"})


def test_non_utf8_jsonl_line(tmp_path, stored, fake_encoder):
    path = tmp_path / "feed.jsonl"
    line = json.dumps({"id": "cafe", "title": "Caf\u00e9", "body": "The caf\u00e9 raised prices."}, ensure_ascii=False)
    path.write_bytes(b'{"id": "ok", "title": "Fine", "body": "A fine line."}\n' + line.encode("cp1252") + b"\n")
    report = build_index([str(path)], stored, fake_encoder)
    assert report.added == ["ok", "cafe"]
    assert [n.where for n in report.notes] == [f"{path}:2"]


def test_malformed_json_line_names_file_and_line(tmp_path, stored, fake_encoder):
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"id": "a1", "title": "One", "body": "First article body."}) + "\n"
                    + '{"id": "a2", "title": "Two", "body": "unterminated\n'
                    + "\n"  # blank lines are fine
                    + json.dumps({"id": "a4", "title": "Four", "body": "Fourth article body."}) + "\n")
    report = ingest_with_good(tmp_path, stored, fake_encoder, path)
    problem = only_problem(report)
    assert problem.where == f"{path}:2" and problem.reason.startswith("malformed JSON")
    assert str(problem).startswith(f"{path}:2: malformed JSON")
    assert sorted(report.added) == ["a1", "a4", "flood"]


@pytest.mark.parametrize(("name", "content", "where_suffix"), [
    ("nobody.json", json.dumps({"id": "x", "title": "Title only"}), ""),
    ("blank-body.json", json.dumps({"id": "x", "title": "T", "body": "   "}), ""),
    ("lines.jsonl", json.dumps({"id": "ok", "title": "T", "body": "Fine."}) + "\n"
     + json.dumps({"id": "x", "title": "No body"}) + "\n", ":2"),
    ("front-only.md", "---\ntitle: Just front matter\nsource: Wire\n---\n", ""),
    ("furniture-only.txt", "Share this article\nSubscribe to our newsletter\n", ""),
])
def test_article_without_body(tmp_path, stored, fake_encoder, name, content, where_suffix):
    path = tmp_path / name
    path.write_text(content)
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem.where == f"{path}{where_suffix}" and "body" in problem.reason


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("broken.json", '{"title": "x",, }', "invalid JSON at line 1"),
    ("number.json", "42", "expected a JSON object"),
    ("list.jsonl", "[1, 2, 3]\n", "expected a JSON object"),
])
def test_json_that_is_not_an_article(tmp_path, stored, fake_encoder, name, content, reason):
    path = tmp_path / name
    path.write_text(content)
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem.where.startswith(str(path)) and reason in problem.reason


@pytest.mark.parametrize("name", ["report.pdf", "notes.docx", "README"])
def test_unsupported_extension(tmp_path, stored, fake_encoder, name):
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4 something")
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem.where == str(path) and problem.reason.startswith("unsupported file type")
    assert ".txt" in problem.reason  # says what is supported


def test_missing_path(tmp_path, stored, fake_encoder):
    missing = tmp_path / "no" / "such.txt"
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, missing))
    assert problem == Problem(str(missing), "no such file or folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_chmod(tmp_path, stored, fake_encoder):
    path = tmp_path / "secret.txt"
    path.write_text(GOOD.replace("River", "Secret"))
    path.chmod(0)
    try:
        problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    finally:
        path.chmod(0o644)
    assert problem.where == str(path) and "permission denied" in problem.reason


def test_unreadable_file(tmp_path, stored, fake_encoder, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text("Secret headline\n\nSecret body text.\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(self):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem == Problem(str(path), "permission denied (file is not readable)")


def test_unreadable_jsonl(tmp_path, stored, fake_encoder, monkeypatch):
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "T", "body": "B."}) + "\n")
    real_open = Path.open

    def open_(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem == Problem(str(path), "permission denied (file is not readable)")


@pytest.mark.parametrize("name", ["huge.txt", "huge.html", "huge.json", "huge.md"])
def test_file_far_larger_than_an_article(tmp_path, stored, fake_encoder, name):
    path = tmp_path / name
    with open(path, "wb") as handle:
        handle.truncate(25_000_000)  # sparse: nothing is written, but it is 25 MB
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem == Problem(str(path), "file is 25.0 MB, over the 20 MB limit for one article")


def test_body_far_longer_than_an_article(tmp_path, stored, fake_encoder):
    text_path = tmp_path / "dump.txt"
    text_path.write_text("Data dump\n\n" + "Word and more words. " * 60_000)
    line_path = tmp_path / "feed.jsonl"
    line_path.write_text(json.dumps({"id": "ok", "title": "T", "body": "Fine body."}) + "\n"
                         + json.dumps({"id": "big", "title": "T", "body": "x " * 600_000}) + "\n")
    report = ingest_with_good(tmp_path, stored, fake_encoder, text_path, line_path)
    assert sorted(report.added) == ["flood", "ok"]
    by_where = {p.where: p.reason for p in report.skipped}
    assert set(by_where) == {str(text_path), f"{line_path}:2"}
    assert all("over the 1,000,000 limit" in reason for reason in by_where.values())


def test_html_with_only_scripts_and_styles(tmp_path, stored, fake_encoder):
    path = tmp_path / "scripts.html"
    path.write_text("<html><head><script>var secret = 'SCRIPTTEXT';</script><style>body{color:red}</style></head>"
                    "<body><script>document.write('more')</script><noscript></noscript></body></html>")
    problem = only_problem(ingest_with_good(tmp_path, stored, fake_encoder, path))
    assert problem.where == str(path) and "no readable text in the HTML" in problem.reason


def test_a_folder_of_bad_files_goes_on_past_each(tmp_path, stored, fake_encoder):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-empty.txt").write_bytes(b"")
    (folder / "b-binary.txt").write_bytes(b"\x00\x01\x02" * 10)
    (folder / "c-good.txt").write_text("Bridge reopens\n\nThe harbour bridge reopened on Tuesday.\n")
    (folder / "d.pdf").write_bytes(b"%PDF")
    (folder / "e-feed.jsonl").write_text('{"id": "e1", "title": "T", "body": "Line one body."}\n{oops\n')
    report = build_index([str(folder)], stored, fake_encoder)
    assert sorted(report.added) == ["c-good", "e1"]
    assert [p.where for p in report.skipped] == [str(folder / "a-empty.txt"), str(folder / "b-binary.txt"),
                                                 str(folder / "d.pdf"), f"{folder / 'e-feed.jsonl'}:2"]
    assert_still_stored(stored, fake_encoder, {"zoo", "c-good", "e1"})


# --- through the command line -----------------------------------------------------------------------------------


def test_cli_exit_status_when_every_input_is_bad(tmp_path, stored, monkeypatch, capsys):
    """In-process (the fake model): every input bad → exit 1, one line each on stdout, nothing lost."""
    import assistant.commands
    from assistant.cli import main

    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    code = main(["ingest", "--index", str(stored), "--no-progress", str(empty), str(tmp_path / "missing.md")])
    out = capsys.readouterr()
    assert code == 1
    assert f"skipped {empty}: empty file" in out.out
    assert f"skipped {tmp_path / 'missing.md'}: no such file or folder" in out.out
    assert "Traceback" not in out.out + out.err
    assert_still_stored(stored, FakeEncoder())
    # with the stored article among the inputs (unchanged), the same bad input is no failure of the command
    again = main(["ingest", "--index", str(stored), "--no-progress", str(empty), str(tmp_path / "stored" / "zoo.txt")])
    assert again == 0 and "unchanged 1" in capsys.readouterr().out


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    return shared_run_cli(*args, home=home, check=False)


@pytest.mark.model
def test_cli_bad_inputs_one_line_each(tmp_path, real_encoder):
    """The real entry point and model: bad files are reported one per line, the good one and the stored one stay."""
    index_dir = tmp_path / "index"
    stored_file = tmp_path / "zoo.txt"
    stored_file.write_text(STORED, encoding="utf-8")
    assert build_index([str(stored_file)], index_dir, real_encoder).added == ["zoo"]

    bad = tmp_path / "inbox"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(b"\x00\xff" * 100)
    (bad / "slides.pdf").write_bytes(b"%PDF-1.4")
    (bad / "nobody.json").write_text(json.dumps({"title": "no body"}))
    (bad / "scripts.html").write_text("<html><head><script>var x = 1;</script><style>p{}</style></head></html>")
    (bad / "feed.jsonl").write_text(json.dumps({"id": "ok-line", "title": "Council budget approved",
                                                "body": "The council approved its budget on Monday."})
                                    + "\n{broken\n")
    (bad / "flood.txt").write_text(GOOD, encoding="utf-8")
    missing = tmp_path / "missing.txt"
    result = run_cli("ingest", "--index", str(index_dir), "--no-progress", str(bad), str(missing),
                     home=tmp_path / "home")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output
    expected = {
        bad / "empty.txt": "empty file",
        bad / "binary.txt": "binary file",
        bad / "slides.pdf": "unsupported file type",
        bad / "nobody.json": "no body",
        bad / "scripts.html": "no readable text",
        f"{bad / 'feed.jsonl'}:2": "malformed JSON",
        missing: "no such file or folder",
    }
    lines = output.splitlines()
    for where, reason in expected.items():
        matching = [line for line in lines if f"{where}:" in line]
        assert len(matching) == 1, (where, output)
        assert reason in matching[0]
    assert "added 2" in result.stdout  # flood and ok-line

    listed = run_cli("articles", "--index", str(index_dir), home=tmp_path / "home")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert sorted(line.split("\t")[0] for line in listed.stdout.splitlines()) == ["flood", "ok-line", "zoo"]
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    positions, _ = snapshot.search_dense(real_encoder.encode(["a baby giraffe was born at the zoo"])[0], 1)
    assert snapshot.chunk(int(positions[0])).article_id == "zoo"
    positions, _ = snapshot.search_keyword("giraffe", 3)
    assert [snapshot.chunk(int(p)).article_id for p in positions] == ["zoo"]
