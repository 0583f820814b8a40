"""Date windows as filters inside the searches (issue 16): the same hits as a masked search, day numbers,
and an index written before the day field rebuilt with one notice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.retrieve import Prior, retrieve
from index.filters import UNDATED, Filters, compile_mask, day_number, day_numbers
from index.ingest import build_index
from index.keywords import KeywordIndex
from index.store import KEYWORD_META, EmbeddedStore, _keyword_files, _texts_of

WORDS = ["council", "budget", "river", "flood", "school", "vote", "bridge", "storm", "museum", "train"]


def _articles(folder: Path, n: int = 60) -> Path:
    """Dated news over three months (some undated), overlapping words, so windows cut every ranking."""
    rng = np.random.default_rng(3)
    path = folder / "news.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            words = rng.choice(WORDS, 4, replace=False)
            body = (f"The {words[0]} and the {words[1]} made news in story {i}. "
                    f"Officials spoke about the {words[2]} on the day. Later the {words[3]} came up again.")
            date = None if i % 9 == 0 else f"2024-{1 + i % 3:02d}-{1 + i % 28:02d}"
            out.write(json.dumps({"id": f"s{i:02d}", "title": f"Story {i} on the {words[0]}", "body": body,
                                  "published_at": date}) + "\n")
    return path


@pytest.fixture
def dated_index(tmp_path, fake_encoder) -> Path:
    index = tmp_path / "idx"
    build_index([str(_articles(tmp_path / "in"))], index, fake_encoder)
    return index


def test_day_numbers_and_integer_masks_agree_with_iso_strings():
    assert day_number("1970-01-01") == 0 and day_number("2024-03-01") - day_number("2024-02-28") == 2
    assert day_number("") == day_number(None) == day_number("not a date") == UNDATED
    dates = np.array(["2024-01-31", "2024-02-01", "", "2024-02-29", "2024-03-01", "2023-12-31"], dtype=str)
    days = day_numbers(dates.tolist())
    sources = np.array(["a"] * len(dates), dtype=object)
    for window in (Filters(date_from="2024-02-01", date_to="2024-02-29"), Filters(date_from="2024-02-01"),
                   Filters(date_to="2024-01-31")):
        for keep in (False, True):
            expected = compile_mask(window, sources=sources, dates=dates, article_positions=None, keep_undated=keep)
            got = compile_mask(window, sources=sources, dates=days, article_positions=None, keep_undated=keep)
            assert got.tolist() == expected.tolist()


def test_a_day_filter_gives_the_masked_search_hits_and_scores():
    index = KeywordIndex.open(None)
    rng = np.random.default_rng(5)
    days = [UNDATED if i % 7 == 0 else int(rng.integers(100, 200)) for i in range(300)]
    index.apply([(i, " ".join(rng.choice(WORDS, 5)), days[i]) for i in range(300)], [])
    view = index.view(np.arange(300))
    inside = np.array([d == UNDATED or 120 <= d <= 150 for d in days])
    for query in ("council budget", "river flood storm", "museum"):
        masked = view.search(query, 20, inside)
        filtered = view.search(query, 20, days=(120, 150))
        assert len(filtered[0]) == 20
        assert filtered[0].tolist() == masked[0].tolist()
        np.testing.assert_allclose(filtered[1], masked[1], rtol=1e-6)
        assert inside[filtered[0]].all()


def test_search_window_matches_masked_searches(dated_index, fake_encoder):
    snapshot = EmbeddedStore.open(dated_index).snapshot()
    try:
        vector = fake_encoder.encode(["the council budget vote"])[0]
        window = snapshot.mask(Filters(date_from="2024-02-01", date_to="2024-02-29"), keep_undated=True)
        assert 0 < window.sum() < snapshot.size
        dense, keyword, inside = snapshot.search_window("council budget vote", vector, 10, None,
                                                        "2024-02-01", "2024-02-29")
        assert inside.tolist() == window.tolist()
        reference = snapshot.search_dense(vector, 10, window)
        assert dense[0].tolist() == reference[0].tolist()  # flat index: exact inside the window
        reference = snapshot.search_keyword("council budget vote", 10, window)
        assert keyword[0].tolist() == reference[0].tolist() and len(keyword[0]) == 10
        undated = snapshot.chunk_days == UNDATED
        assert undated.any() and inside[undated].all()
    finally:
        snapshot.close()


def test_a_prior_ranks_in_window_articles_first_and_keeps_the_rest(dated_index, fake_encoder):
    snapshot = EmbeddedStore.open(dated_index).snapshot()
    try:
        prior = (Prior("2024-03-01", "2024-03-31", 5.0),)
        got = retrieve(snapshot, fake_encoder, "council budget", mode="hybrid", depth=30, priors=prior)
        dates = [p.published_at or "" for p in got.passages]
        assert dates[0] == "" or dates[0].startswith("2024-03")
        assert any(d and not d.startswith("2024-03") for d in dates)  # a prior never drops the rest
    finally:
        snapshot.close()


def _downgrade_keywords(index: Path) -> None:
    """Replace the keyword index with one as the previous version wrote it: no day field, no format."""
    import tantivy

    from index import database as db
    from index.keywords import terms

    folder = index / "keyword"
    shutil.rmtree(folder)
    folder.mkdir()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("text", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field("cid", stored=False, indexed=True, fast=True)
    old = tantivy.Index(builder.build(), path=str(folder))
    conn = db.connect(index / db.DB_NAME)
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM chunks")]
        writer = old.writer(heap_size=50_000_000, num_threads=1)
        for cid, text, _ in _texts_of(conn, ids):
            writer.add_document(tantivy.Document(cid=cid, text=" ".join(terms(text))))
        writer.commit()
        writer.wait_merging_threads()
        seq = db.last_change(conn)
    finally:
        conn.close()
    (index / KEYWORD_META).write_text(json.dumps({"seq": seq, "files": _keyword_files(folder)}))


def _notices(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("notice:")]


def test_an_index_from_before_the_day_field_is_rebuilt_once_with_a_notice(dated_index, fake_encoder, capsys):
    _downgrade_keywords(dated_index)
    capsys.readouterr()
    snapshot = EmbeddedStore.open(dated_index).snapshot()
    try:
        lines = _notices(capsys)
        assert len(lines) == 1 and "keyword format 1" in lines[0] and "rebuilding" in lines[0]
        _, keyword, inside = snapshot.search_window("council", None, 50, None, "2024-02-01", "2024-02-29")
        assert len(keyword[0]) and inside[keyword[0]].all()
    finally:
        snapshot.close()
    assert json.loads((dated_index / KEYWORD_META).read_text())["format"] == 2
    EmbeddedStore.open(dated_index).snapshot().close()
    assert _notices(capsys) == []  # upgraded once


def test_a_commit_into_an_index_from_before_the_day_field_upgrades_it(dated_index, fake_encoder, tmp_path, capsys):
    _downgrade_keywords(dated_index)
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"id": "late", "title": "A late story", "body": "The museum train storm story.",
                                 "published_at": "2024-02-10"}) + "\n")
    capsys.readouterr()
    build_index([str(extra)], dated_index, fake_encoder)
    lines = _notices(capsys)
    assert len(lines) == 1 and "keyword format 1" in lines[0]
    snapshot = EmbeddedStore.open(dated_index).snapshot()
    try:
        _, keyword, _ = snapshot.search_window("museum train storm", None, 5, None, "2024-02-10", "2024-02-10")
        assert "late" in [snapshot.chunk(int(p)).article_id for p in keyword[0]]
    finally:
        snapshot.close()
    assert _notices(capsys) == []


class _WithoutWindowSearch:
    """A snapshot as another backend (Milvus) presents it: the protocol's masked searches, no search_window."""

    def __init__(self, snapshot):
        self._snapshot = snapshot

    def __getattr__(self, name):
        if name == "search_window":
            raise AttributeError(name)
        return getattr(self._snapshot, name)


def test_a_backend_without_window_search_gets_the_same_passages_from_masked_searches(dated_index, fake_encoder):
    snapshot = EmbeddedStore.open(dated_index).snapshot()
    try:
        priors = (Prior("2024-02-01", "2024-02-29", 1.0), Prior("2024-02-20", "2024-03-05", 0.5))
        for mode in ("dense", "keyword", "hybrid"):
            native = retrieve(snapshot, fake_encoder, "river flood storm", mode=mode, depth=20, priors=priors,
                              lead_lists=True)
            masked = retrieve(_WithoutWindowSearch(snapshot), fake_encoder, "river flood storm", mode=mode,
                              depth=20, priors=priors, lead_lists=True)
            assert [p.chunk_id for p in native.passages] == [p.chunk_id for p in masked.passages]
            np.testing.assert_allclose([p.score for p in native.passages], [p.score for p in masked.passages])
    finally:
        snapshot.close()
