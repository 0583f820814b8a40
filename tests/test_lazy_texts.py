"""Passage texts read when first used (issue 16): an answer reads the bodies of the passages it shows, not
of the whole fused ranking, and every passage's text is still its article's span, also after a reload."""

from __future__ import annotations

import copy
import gc
import pickle
from dataclasses import FrozenInstanceError, asdict

import pytest

from assistant.results import Passage
from index.store import SnapshotExpired
from tests.fakes import make_assistant

TOPICS = ["harbour", "council", "budget", "rail", "school", "hospital", "river", "bridge", "market", "museum"]


def _article(i: int) -> str:
    a, b = TOPICS[i % len(TOPICS)], TOPICS[(i * 3 + 1) % len(TOPICS)]
    body = " ".join(f"The city {a} plan number {i} met the {b} committee on day {d} of the review."
                    for d in range(4))
    return (f"---\nid: a{i}\ntitle: City {a} report {i}\nsource: Wire {i % 4}\n"
            f"published_at: 2021-01-{i % 28 + 1:02d}\n---\n{body}\n")


ARTICLES = {f"a{i}.md": _article(i) for i in range(40)}
QUESTION = "What did the city harbour plan committee review?"


@pytest.fixture
def engine(tmp_path_factory):
    engine = make_assistant(tmp_path_factory, articles=ARTICLES)
    yield engine
    engine.close()


def _record_body_reads(snapshot) -> list[set[int]]:
    """The article rowids of each body read the snapshot makes from here on (its body cache emptied first)."""
    reads: list[set[int]] = []
    snapshot._body_cache.clear()
    prefetch, body = snapshot.prefetch_bodies, snapshot._body

    def recorded_prefetch(positions):
        reads.append({int(snapshot.chunk_article_keys[p]) for p in positions} - snapshot._body_cache.keys())
        return prefetch(positions)

    def recorded_body(rowid):
        if rowid not in snapshot._body_cache:
            reads.append({int(rowid)})
        return body(rowid)

    snapshot.prefetch_bodies, snapshot._body = recorded_prefetch, recorded_body
    return reads


def test_an_answer_reads_the_bodies_of_the_passages_it_shows_only(engine):
    reads = _record_body_reads(engine.snapshot)
    answer = engine.ask(QUESTION, k=3)
    assert not answer.abstained and len(answer.passages) >= 30
    shown = {p.article_id for p in answer.shown}
    assert {engine.snapshot._articles[r][1] for read in reads for r in read} <= shown
    assert {i for i, p in enumerate(answer.passages) if p.text_read} == \
        {i for i, p in enumerate(answer.passages) if p.article_id in shown}
    for c in answer.cited:  # citations still offset-exact
        body = engine.article(c.passage.article_id).body
        assert c.passage.text == body[c.passage.start:c.passage.end]
        said = {x.text for x in answer.sentences} | {o.text for x in answer.sentences for o in x.also}
        assert all(body[c.passage.start + s:c.passage.start + e] in said for s, e in c.highlights)


def test_every_ranked_passage_reads_as_its_articles_span_the_rest_in_one_read(engine):
    answer = engine.ask(QUESTION, k=3)
    reads = _record_body_reads(engine.snapshot)
    unread = [p for p in answer.passages if not p.text_read]
    assert unread
    texts = [p.text for p in reversed(unread)]
    assert len(reads) == 1  # one read for the rest of the ranking (and the near-duplicates folded out of it)
    read = {engine.snapshot._articles[r][1] for r in reads[0]}
    assert {p.article_id for p in unread} <= read and not read & {p.article_id for p in answer.shown}
    for p, text in zip(reversed(unread), texts, strict=True):
        assert text == engine.article(p.article_id).body[p.start:p.end]
    data = answer.to_dict()  # the JSON output (ask --json) carries every text
    assert [d["text"] for d in data["passages"]] == [p.text for p in answer.passages]


def test_texts_outlive_their_snapshot_but_never_show_another_generations(engine, tmp_path):
    answer = engine.ask(QUESTION, k=3)
    old = engine.snapshot
    unread = [p for p in answer.passages if not p.text_read]
    changed = unread[0].article_id
    expected = {p.position: engine.article(p.article_id).body[p.start:p.end] for p in unread}
    (tmp_path / "changed.md").write_text(ARTICLES[f"{changed}.md"].replace("committee", "board"))
    engine.ingest([str(tmp_path / "changed.md")])  # a new generation; the old snapshot is closed
    assert old.closed and engine.snapshot is not old
    with pytest.raises(SnapshotExpired, match=changed):
        _ = unread[0].text
    for p in unread:
        if p.article_id != changed:
            assert p.text == expected[p.position]


def test_an_answer_does_not_keep_its_snapshot_alive(engine, tmp_path):
    import weakref

    answer = engine.ask(QUESTION, k=3)
    old = weakref.ref(engine.snapshot)
    (tmp_path / "new.md").write_text(_article(99))
    engine.ingest([str(tmp_path / "new.md")])
    gc.collect()
    assert old() is None
    assert all(p.text == engine.article(p.article_id).body[p.start:p.end] for p in answer.passages)


class _Counted:
    def __init__(self):
        self.reads = 0

    def text(self, position: int) -> str:
        self.reads += 1
        return f"text of {position}"


def _passage(text, **changes) -> Passage:
    return Passage(**({"position": 7, "chunk_id": 1, "article_id": "a", "title": "t", "source": "s",
                       "published_at": None, "url": None, "text": text, "start": 0, "end": 9, "score": 1.0}
                      | changes))


def test_a_passage_text_is_a_required_frozen_field_read_once():
    with pytest.raises(TypeError):
        Passage(7, 1, "a", "t", "s", None, None, start=0, end=9, score=1.0)  # text is still required
    given = _passage("plain")
    assert given.text == "plain" and given.text_read
    source = _Counted()
    lazy = _passage(source)
    assert not lazy.text_read and source.reads == 0
    moved = lazy.but(also_reported_by=("Other",))
    assert source.reads == 0 and not moved.text_read  # carried over unread
    assert lazy.text == "text of 7" and lazy.text == "text of 7" and source.reads == 1
    with pytest.raises(FrozenInstanceError):
        lazy.text = "changed"
    with pytest.raises(ValueError):
        moved.but(start=2)  # a new span needs its text
    assert moved == _passage("text of 7", also_reported_by=("Other",))
    assert asdict(moved)["text"] == "text of 7"
    for copied in (pickle.loads(pickle.dumps(_passage(_Counted()))), copy.deepcopy(_passage(_Counted()))):
        assert copied.text_read and copied.text == "text of 7"
