"""ui/conversations.py: what the browser keeps (compact JSON that rebuilds the same Answers), the history
of conversations (new, open, delete, restore after a reload) and the exports (Markdown and JSON with the
numbered sources; clean text for the clipboard)."""

from __future__ import annotations

import json

from tests.fakes import DEFAULT_FORM, turn
from ui.conversations import (
    MAX_CONVERSATIONS,
    Conversation,
    Session,
    answer_from_json,
    answer_json,
    answer_plain_text,
    conversation_json,
    conversation_markdown,
)
from ui.events import EXPORT_ANSWER, EXPORT_CONVERSATION


def test_answer_json_is_compact_and_round_trips(events):
    session, _ = turn(events, "What did IBM say about facial recognition?", k=2)
    answer = session.current.turns[0].answer
    data = json.loads(json.dumps(answer_json(answer)))
    assert len(data["passages"]) == len(answer.shown) <= 2 and "shown" not in data
    assert answer_from_json(data).sentences == answer.sentences
    assert answer_from_json(data).cited == answer.cited
    full = answer_json(answer, full_ranking=True)
    assert len(full["passages"]) == len(answer.passages) and len(full["shown"]) == len(answer.shown)


def test_a_reload_restores_the_conversation_and_its_panel(events):
    session, outputs = turn(events, "What did IBM say about facial recognition?")
    saved, archive = json.loads(json.dumps(outputs[5])), json.loads(json.dumps(session.archive_json()))
    fresh = Session()  # the reloaded page: a new session, the browser's saved state
    messages, panel, *_ = events.restore(fresh, saved, archive)
    assert messages == outputs[0] and panel == outputs[1]
    assert events.select(fresh, "0-1")[1] == events.select(session, "0-1")[1]
    _, (follow, *_) = turn(events, "And Amazon?", fresh)  # a follow-up still reads the restored answer
    assert len(follow) == 4


def test_new_open_and_delete_conversations(events):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    first = session.current.id
    view = events.new_conversation(session)
    assert view[0] == [] and view[7] == "" and [c["id"] for c in view[8]] == [first]
    turn(events, "When are ferries cancelled?", session)
    second = session.current.id
    labels = dict((v, k) for k, v in session.history_choices())
    assert labels[first] == "What did IBM say about facial recognition? (1 question)"
    view = events.open_conversation(session, first)
    assert session.current.id == first and "IBM said" in view[0][1]["content"]
    assert [c.id for c in session.archive] == [second]
    events.delete_conversation(session, first)
    assert session.current.turns == [] and [c.id for c in session.archive] == [second]
    assert all(v == v for v in events.open_conversation(session, "no-such-id"))


def test_history_is_bounded_and_damaged_saves_start_afresh():
    session = Session()
    archive = [Conversation(id=f"c{i}", turns=[]).to_json() for i in range(3)]
    session.restore({"id": 5, "turns": "nonsense"}, archive + ["junk"])
    assert session.current.turns == [] and session.archive == []  # empty ones are not kept
    assert MAX_CONVERSATIONS >= 20
    assert Conversation.from_json({"turns": []}).id  # no id: a new conversation


def test_exports_carry_the_sentences_markers_and_numbered_sources(events):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    turn(events, "What did the Zanzibar harbour cameras record?", session)
    md = conversation_markdown(session.current)
    assert md.startswith("# What did IBM say about facial recognition?")
    assert "IBM said it will no longer offer general purpose facial recognition software. [1]" in md
    assert "1. **IBM leaves the face recognition market** · Ledger Wire · 2020-06-08 · <https://ledger.example/ibm>" \
        in md
    assert "<script" not in md and "javascript:" not in md  # the hostile article stays text, unlinked
    data = json.loads(conversation_json(session.current))
    first = data["turns"][0]
    assert first["answer"]["text"].endswith("[1]")
    assert first["sources"][0] | {"passage": ""} == {
        "number": 1, "title": "IBM leaves the face recognition market", "source": "Ledger Wire",
        "published_at": "2020-06-08", "url": "https://ledger.example/ibm", "article_id": "ibm", "passage": ""}
    path = events.export(session, EXPORT_ANSWER, "Markdown")
    from pathlib import Path

    one = Path(path).read_text(encoding="utf-8")
    assert "Zanzibar" in one and "IBM said" not in one
    assert events.export(session, EXPORT_CONVERSATION, "JSON").endswith(".json")


def test_copy_text_is_clean_with_sources(events):
    session, _ = turn(events, "What did IBM say about facial recognition?")
    text = answer_plain_text(session.current.turns[0].answer)
    assert "\\[" not in text and "#cite-" not in text and "*" not in text
    assert text.splitlines()[0].endswith("[1]") and "Sources:" in text
    assert "[1] IBM leaves the face recognition market · Ledger Wire · 2020-06-08 · https://ledger.example/ibm" in text


def test_push_uses_the_default_form(events):
    session = Session()
    events.push(session, "What did IBM say?", DEFAULT_FORM)
    assert session.pending[0].options.k == 5
