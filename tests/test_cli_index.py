"""The real `assistant` entry point for the index commands: ingest, articles, info, remove."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from index.ingest import build_index
from index.manifest import MANIFEST_NAME
from tests.conftest import run_cli
from tests.fakes import FakeEncoder

ARTICLES = {
    "bridge.md": "---\ntitle: Harbour bridge reopens\nsource: Daily Planet\npublished_at: 2024-03-05\n---\n"
                 "The harbour bridge reopened on Tuesday. Engineers replaced the rusty cables.\n",
    "zoo.txt": "Zoo welcomes giraffe\n\nThe city zoo welcomed a baby giraffe on Monday. Keepers named her Daisy.\n",
    "world/flood.txt": "River floods farmland\n\nThe river burst its banks. Farmers moved cattle to high ground.\n",
}


def write_corpus(folder: Path) -> Path:
    for name, text in ARTICLES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def listed(result: subprocess.CompletedProcess) -> dict[str, list[str]]:
    return {line.split("\t")[0]: line.split("\t")[1:] for line in result.stdout.splitlines()}


def info_fields(result: subprocess.CompletedProcess) -> dict[str, str]:
    pairs = (line.partition(":") for line in result.stdout.splitlines())
    return {key.strip(): value.strip() for key, _, value in pairs}


@pytest.fixture(scope="module")
def fake_built(tmp_path_factory) -> Path:
    """An index built in-process with the fake model (the listing commands never load a model)."""
    folder = tmp_path_factory.mktemp("cli")
    report = build_index([str(write_corpus(folder / "corpus"))], folder / "index", FakeEncoder())
    assert sorted(report.added) == ["bridge", "world/flood", "zoo"]
    return folder / "index"


@pytest.fixture
def index_copy(fake_built, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(fake_built, target)
    return target


def test_articles_lists_every_article(index_copy, tmp_path):
    result = run_cli("articles", "--index", str(index_copy), home=tmp_path)
    assert result.returncode == 0
    rows = listed(result)
    assert sorted(rows) == ["bridge", "world/flood", "zoo"]
    assert rows["bridge"] == ["2024-03-05", "Daily Planet", "1 chunks", "Harbour bridge reopens"]
    assert rows["zoo"][-1] == "Zoo welcomes giraffe"
    assert result.stderr.strip().endswith("3 articles")


def test_info_shows_model_and_counts(index_copy, tmp_path):
    result = run_cli("info", "--index", str(index_copy), home=tmp_path)
    assert result.returncode == 0
    fields = info_fields(result)
    assert fields["model"] == "fake-hash-encoder (64-d)"
    assert fields["articles"] == "3" and fields["chunks"] == "3"
    assert int(fields["sentences"]) == 6 and fields["index"] == str(index_copy)
    assert "format 2" in fields["store"]


def test_remove_removes_and_unknown_id_is_an_error(index_copy, tmp_path):
    result = run_cli("remove", "--index", str(index_copy), "zoo", home=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "removed zoo")
    assert sorted(listed(run_cli("articles", "--index", str(index_copy), home=tmp_path))) == ["bridge", "world/flood"]
    assert info_fields(run_cli("info", "--index", str(index_copy), home=tmp_path))["chunks"] == "2"

    unknown = run_cli("remove", "--index", str(index_copy), "no-such-id", home=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == f"error: no article 'no-such-id' in {index_copy}"

    mixed = run_cli("remove", "--index", str(index_copy), "bridge", "nope", home=tmp_path)
    assert mixed.returncode == 1 and mixed.stdout.strip() == "removed bridge" and "'nope'" in mixed.stderr
    assert sorted(listed(run_cli("articles", "--index", str(index_copy), home=tmp_path))) == ["world/flood"]


def test_missing_index_is_a_one_line_error(tmp_path):
    result = run_cli("articles", "--index", str(tmp_path / "nowhere"), home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no index here" in result.stderr


def test_index_of_another_format_is_refused(index_copy, tmp_path):
    manifest = json.loads((index_copy / MANIFEST_NAME).read_text())
    manifest["format_version"] = 1
    (index_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    for command in ("articles", "info"):
        result = run_cli(command, "--index", str(index_copy), home=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: {index_copy}: index format 1, this version reads 2")


def test_ingest_into_an_index_of_another_model_is_refused(index_copy, monkeypatch, capsys, tmp_path):
    """In-process with a stand-in model of another dimension: a clear error, exit 2, the index untouched."""
    import assistant.commands
    from assistant.cli import main

    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder(dim=32))
    new = tmp_path / "new.txt"
    new.write_text("Storm hits coast\n\nA storm hit the coast.\n")
    code = main(["ingest", "--index", str(index_copy), "--no-progress", str(new)])
    err = capsys.readouterr().err
    assert code == 2
    # one name, two dimensions: said without contradicting itself (issue 14, case 7)
    assert err.startswith(f"error: {index_copy}: built with model 'fake-hash-encoder' giving 64-d vectors, but the "
                          "'fake-hash-encoder' loaded here gives 32-d ones")
    assert sorted(listed(run_cli("articles", "--index", str(index_copy), home=tmp_path))) == [
        "bridge", "world/flood", "zoo"]


@pytest.mark.model
def test_ingest_a_folder_with_the_real_model(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    index_dir = tmp_path / "index"
    result = run_cli("ingest", "--index", str(index_dir), "--no-progress", str(corpus), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added 3, updated 0, unchanged 0, skipped 0 (3 chunks embedded")
    rows = listed(run_cli("articles", "--index", str(index_dir), home=tmp_path / "home"))
    assert sorted(rows) == ["bridge", "world/flood", "zoo"]
    fields = info_fields(run_cli("info", "--index", str(index_dir), home=tmp_path / "home"))
    assert fields["model"] == "all-MiniLM-L6-v2+onnx-int8 (384-d)"  # the default backend on the CPU
    assert fields["articles"] == "3"
    assert int(fields["chunks"]) == sum(int(row[2].split()[0]) for row in rows.values()) == 3
    assert not list((tmp_path / "home").glob("demo-index*"))  # --index given: no demo index was built
