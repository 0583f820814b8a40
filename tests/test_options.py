"""AskOptions: one value from every front end to retrieval, defaults in one place, bad values refused."""

from __future__ import annotations

import pytest

from assistant import AskOptions, AskSettings, Assistant, Filters, OptionError
from index.ingest import build_index
from tests.fakes import FakeEncoder, hand_model


def test_defaults_live_in_one_place_and_overrides_are_checked():
    options = AskOptions()
    assert (options.k, options.mode, options.max_sentences, options.per_article) == (5, "hybrid", 3, 2)
    assert options.filters == Filters() and options.as_of is None and options.time_aware is True
    assert options.but(k=3).k == 3 and options.k == 5  # a copy; frozen
    with pytest.raises(OptionError, match="unknown option"):
        options.but(top_k=3)
    with pytest.raises(TypeError):
        AskOptions(Filters())  # keyword-only


@pytest.mark.parametrize(("changes", "message"), [
    ({"k": 0}, "'k' must be a whole number from 1 to 20"),
    ({"k": 50}, "'k' must be a whole number from 1 to 20"),
    ({"k": True}, "'k'"),
    ({"max_sentences": 11}, "'max_sentences'"),
    ({"per_article": -1}, "'per_article'"),
    ({"mode": "fuzzy"}, "unknown retrieval mode 'fuzzy'"),
])
def test_out_of_range_options_are_refused_with_their_name(changes, message):
    with pytest.raises(OptionError, match=message):
        AskOptions(**changes)


@pytest.fixture(scope="module")
def long_article_engine(tmp_path_factory):
    """One article long enough for many chunks, and one short one."""
    folder = tmp_path_factory.mktemp("articles")
    (folder / "long.md").write_text("---\nid: long\ntitle: Cameras\n---\n" + " ".join(
        f"Camera {i} in district {i} recorded police patrols near the harbour." for i in range(80)))
    (folder / "short.md").write_text("---\nid: short\ntitle: Ferries\n---\nFerries stopped at the harbour.")
    encoder = FakeEncoder()
    index_dir = tmp_path_factory.mktemp("index") / "idx"
    build_index([str(folder)], index_dir, encoder)
    engine = Assistant.load(index_dir, encoder=encoder, settings=AskSettings(answer_model=hand_model()))
    yield engine
    engine.close()


def test_per_article_zero_means_no_cap(long_article_engine):
    """`per_article or default` once turned 0 ("no cap") into 2."""
    question = "Which camera recorded police patrols near the harbour?"
    capped = long_article_engine.ask(question, k=5)
    uncapped = long_article_engine.ask(question, k=5, per_article=0)
    one = long_article_engine.ask(question, k=5, per_article=1)
    count = lambda answer: sum(p.article_id == "long" for p in answer.shown)  # noqa: E731
    assert count(one) == 1 and count(capped) == 2
    assert count(uncapped) > 2 and len(uncapped.shown) == 5


def test_the_options_given_are_the_options_used(long_article_engine):
    options = AskOptions(k=2, mode="keyword", max_sentences=1)
    answer = long_article_engine.ask("harbour ferries", options=options)
    assert answer.mode == "keyword" and len(answer.sentences) <= 1 and len(answer.shown) <= 2
    assert long_article_engine.ask("harbour ferries", options=options, k=1).shown[:1] == answer.shown[:1]
