"""Template sentences (issue 11): the store counts how many articles hold each sentence, on every backend,
through ingest, replacement and removal, and the engine never quotes one that many articles hold while a
fact two wire copies share is still quoted."""

from __future__ import annotations

import sqlite3

import pytest

from assistant.engine import AskSettings, Assistant
from index.backends import open_store
from index.ingest import build_index, open_for_writing, remove_articles
from index.sentence_spread import SpreadCounter, normalise, sentence_key
from tests.fakes import FakeEncoder, hand_model

TEMPLATE = "This camera story has been updated with additional details."  # not a furniture line (clean.py)
FACT = "The council fined Lumen Optics two million dollars over the camera contract."
TOWNS = ("Ashford", "Bexley", "Crowley", "Dunmore", "Elstow", "Farley")


def _story(i: int, town: str) -> str:
    return (f"---\nid: story-{i}\ntitle: {town} council debates street lighting\nsource: Wire {i}\n"
            f"published_at: 2020-06-0{i + 1}\n---\n"
            f"The {town} council met on Tuesday to debate new street lighting for the market square. "
            f"Residents of {town} asked for brighter lamps near the {town} railway station. "
            f"The {town} mayor said a decision on the lighting budget would come in the autumn.\n"
            f"{TEMPLATE}\n")


def _wire(i: int, outlet: str) -> str:
    """Two outlets' versions of one story: the fact sentence verbatim, the rest in their own words."""
    own = ("Officials in the city confirmed the penalty late on Monday evening after a long review."
           if i == 0 else "A spokesperson for the regional authority described the decision as final and binding.")
    return (f"---\nid: wire-{i}\ntitle: Camera maker penalised\nsource: {outlet}\npublished_at: 2020-06-09\n---\n"
            f"{FACT} {own}\n")


def _corpus(folder, stories: int) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(stories):
        (folder / f"story-{i}.md").write_text(_story(i, TOWNS[i]))
    for i, outlet in enumerate(("Ledger Wire", "Harbor Times")):
        (folder / f"wire-{i}.md").write_text(_wire(i, outlet))


def _spread(location, texts: list[str]) -> list[int]:
    store = open_store(location)
    try:
        snapshot = store.snapshot()
        try:
            return snapshot.sentence_spread(texts)
        finally:
            snapshot.close()
    finally:
        store.close()


def test_sentence_keys_ignore_case_punctuation_and_spacing():
    assert normalise("Sign up  here for the ‘5 Things’ newsletter.") == "sign up here for the 5 things newsletter"
    assert sentence_key("Read more here.") == sentence_key("read more  here")
    assert sentence_key("Read more here.") != sentence_key("Read more there.")


def test_the_client_side_count_follows_articles_that_come_change_and_go():
    counter = SpreadCounter()
    counter.set("a", {sentence_key(TEMPLATE), sentence_key(FACT)})
    counter.set("b", {sentence_key(TEMPLATE)})
    assert counter.counts([TEMPLATE, FACT, "Never seen."]) == [2, 1, 0]
    counter.set("a", {sentence_key(FACT)})  # replaced: its old sentences no longer count
    counter.discard("b")
    counter.discard("unknown")
    assert counter.counts([TEMPLATE, FACT]) == [0, 1]


def test_the_store_counts_articles_per_sentence_through_replace_and_remove(index_location, tmp_path):
    folder = tmp_path / "in"
    _corpus(folder, stories=4)
    encoder = FakeEncoder()
    build_index([str(folder)], index_location, encoder)
    assert _spread(index_location, [TEMPLATE, FACT.upper(), "Not in any article."]) == [4, 2, 0]

    (folder / "story-0.md").write_text(_story(0, TOWNS[0]).replace(TEMPLATE, "Lamps will be installed in May."))
    build_index([str(folder)], index_location, encoder)  # story-0 replaced without the template
    assert _spread(index_location, [TEMPLATE, "Lamps will be installed in May."]) == [3, 1]

    store = open_for_writing(index_location, encoder)
    try:
        remove_articles(store, ["story-1", "wire-0"])
    finally:
        store.close()
    assert _spread(index_location, [TEMPLATE, FACT]) == [2, 1]


def test_an_index_made_before_the_counts_gets_them_on_open(tmp_path):
    folder, index = tmp_path / "in", tmp_path / "index"
    _corpus(folder, stories=3)
    build_index([str(folder)], index, FakeEncoder())
    conn = sqlite3.connect(index / "index.sqlite")
    conn.executescript("DROP TABLE sentence_keys; DELETE FROM meta WHERE key = 'spread_ready';")
    conn.close()
    assert _spread(index, [TEMPLATE, FACT]) == [3, 2]


def _engine(index_location, tmp_path, template_articles: int) -> Assistant:
    folder = tmp_path / "in"
    _corpus(folder, stories=5)
    encoder = FakeEncoder()
    build_index([str(folder)], index_location, encoder)
    settings = AskSettings(answer_model=hand_model(), template_articles=template_articles)
    return Assistant.load(index_location, encoder=encoder, settings=settings)


@pytest.mark.parametrize("template_articles", [5, 0])
def test_a_sentence_many_articles_hold_is_never_quoted_but_a_wire_fact_is(index_location, tmp_path,
                                                                           template_articles):
    engine = _engine(index_location, tmp_path, template_articles)
    try:
        signup = engine.ask("Has the camera story been updated with additional details?")
        quoted = [s.text for s in signup.sentences]
        assert not signup.abstained  # the other sentences still answer: the template is just not among them
        # held by 5 articles: a template at 5, an ordinary (and here the best-matching) sentence when off
        assert (TEMPLATE in quoted) == (template_articles == 0)
        fined = engine.ask("How much did the council fine Lumen Optics over the camera contract?")
        assert FACT in [s.text for s in fined.sentences]  # two wire copies hold it: a fact, not a template
    finally:
        engine.close()


def test_the_measuring_script_reads_answers_and_counts_as_the_store_does(tmp_path):
    from eval.template_sentences import answer_sentences, archive_spread

    assert answer_sentences("(2022-07-14) One fact. [1] Another. [2][3]") == ["One fact.", "Another."]
    folder, index = tmp_path / "in", tmp_path / "index"
    _corpus(folder, stories=3)
    build_index([str(folder)], index, FakeEncoder())
    store = open_store(index)
    snapshot = store.snapshot()
    try:
        spread = archive_spread(snapshot)
    finally:
        snapshot.close()
        store.close()
    assert spread[normalise(TEMPLATE)] == 3 and spread[normalise(FACT)] == 2
