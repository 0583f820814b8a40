"""ui/events.py's Corpus tab: the article list and summary, uploads (type, size, and never replacing an
article unless asked and allowed), removal (a cancel says so), near-duplicate cards. Fake encoder."""

from __future__ import annotations

import html
from types import SimpleNamespace

from tests.fakes import make_ui_assistant, turn
from ui.events import MAX_UPLOAD_BYTES, Events, example_questions


def test_list_articles_summary_and_choices(events):
    rows = events.list_articles()
    assert [r["id"] for r in rows] == ["weather", "amazon", "hostile", "ibm"]  # newest first
    assert set(rows[0]) == {"id", "title", "source", "published_at", "url", "authors", "chunks"}
    assert events.article_rows()[0] == [rows[0]["title"], "Harbor Times", "2021-03-02", rows[0]["chunks"], "weather"]
    assert events.source_choices() == ["<b>Evil</b> Source", "Harbor Times", "Ledger Wire"]
    assert events.corpus_summary() == "4 articles from 3 sources, published 2020-06-08 to 2021-03-02"
    table = events.articles_table()
    assert table.count("<tr>") == 5 and "&lt;script&gt;" in table and "<script" not in table


def test_ingest_checks_type_and_size_then_adds_and_remove_removes(tmp_path_factory, tmp_path):
    engine = make_ui_assistant(tmp_path_factory)
    try:
        ev = Events(engine)
        good = tmp_path / "new-article.md"
        good.write_text("---\ntitle: Zanzibar ferry timetable changes\nsource: Port Gazette\n---\n"
                        "The Zanzibar ferry will leave an hour earlier from Monday.\n")
        bad_type = tmp_path / "payload.exe"
        bad_type.write_text("MZ")
        too_big = tmp_path / "huge.txt"
        with too_big.open("wb") as f:
            f.truncate(MAX_UPLOAD_BYTES + 1)
        calls = []
        message, report = ev.ingest([str(good), str(bad_type), str(too_big)],
                                    progress=lambda *a, **k: calls.append(a))
        assert report["added"] == ["new-article"]
        reasons = {s["file"]: s["reason"] for s in report["skipped"]}
        assert "not an accepted type" in reasons["payload.exe"] and "20 MB" in reasons["huge.txt"]
        assert "Added 1" in message and "Skipped payload.exe" in message and calls
        assert "new-article" in {r["id"] for r in ev.list_articles()}
        assert "Port Gazette" in ev.refresh_corpus()[1]["choices"]

        assert ev.ingest(None)[0] == "No files were uploaded."
        assert ev.remove(["new-article"], "cancelled") == "Removal cancelled: nothing was removed."
        assert "new-article" in {r["id"] for r in ev.list_articles()}
        assert "Removed 1" in ev.remove(["new-article"])
        assert "new-article" not in {r["id"] for r in ev.list_articles()}
        assert "Not in the index: nope" in ev.remove(["nope"])
        assert ev.remove([]) == "Nothing removed: choose the articles to remove first."
    finally:
        engine.close()


def test_an_upload_replaces_an_article_only_when_asked_and_allowed(tmp_path_factory, tmp_path):
    engine = make_ui_assistant(tmp_path_factory)
    try:
        rewrite = tmp_path / "ibm.md"
        rewrite.write_text("---\nid: ibm\ntitle: IBM rewritten\n---\nSomeone rewrote the IBM story entirely.\n")
        remote = Events(engine, local=False, authenticated=False)  # --host 0.0.0.0 --insecure-no-auth
        for ticked in (False, True):
            message, report = remote.ingest([str(rewrite)], replace=ticked)
            assert report["updated"] == [] and "would replace ibm already in the index" in message
            assert "needs an app served with --auth" in message
        local = Events(engine)  # loopback
        message, report = local.ingest([str(rewrite)])
        assert report["updated"] == [] and "tick “Replace existing articles”" in message
        signed_in = Events(engine, local=False)
        _, report = signed_in.ingest([str(rewrite)], replace=True, request=SimpleNamespace(username="ann"))
        assert report["updated"] == ["ibm"]
        assert engine.article("ibm").title == "IBM rewritten"
    finally:
        engine.close()


def test_article_removed_after_the_answer_is_explained(tmp_path_factory):
    engine = make_ui_assistant(tmp_path_factory)
    try:
        ev = Events(engine)
        session, _ = turn(ev, "What did IBM say about facial recognition?")
        engine.remove([session.current.turns[0].answer.cited[0].passage.article_id])
        _, article = ev.select(session, "0-1")
        assert "no longer in the index" in article
    finally:
        engine.close()


def test_example_questions(assistant):
    questions = example_questions(assistant)
    assert questions == [f"What does the article “{a.title}” report?" for a in assistant.articles()]


WIRE_STORY = ("Port authorities in Zanzibar said on Monday that the new container terminal will open in September "
              "after two years of construction, doubling the harbour's capacity for cargo ships. The terminal was "
              "financed by a consortium of regional banks and will employ about four hundred dock workers, the "
              "authority said in a statement. Officials expect shipping lines to move traffic from neighbouring "
              "ports once the deeper berths are ready for the largest vessels.")
WIRE_COPIES = {
    f"{name}.md": f"---\nid: terminal-{name}\ntitle: Zanzibar terminal {name}\nsource: {source}\n"
                  f"published_at: 2020-06-0{day}\n---\n{WIRE_STORY}\n"
    for name, source, day in (("a", "Coast Courier", 1), ("b", "Island Herald", 2), ("c", "<b>Wire</b> & Co", 3))
}


def test_passage_card_says_who_else_reported_it(tmp_path_factory):
    engine = make_ui_assistant(tmp_path_factory, articles=WIRE_COPIES)
    try:
        session, (_, panel, *_) = turn(Events(engine), "When will the Zanzibar container terminal open?")
        answer = session.current.turns[0].answer
        first = answer.cited[0].passage  # one of the three copies; the other two are folded into it
        assert len(answer.passages) == 1 and len(first.also_reported_by) == 2
        assert {first.source, *first.also_reported_by} == {"Coast Courier", "Island Herald", "<b>Wire</b> & Co"}
        assert f'<div class="also">Also reported by: {html.escape(", ".join(first.also_reported_by))}</div>' in panel
        assert "<b>Wire" not in panel
    finally:
        engine.close()


RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour &amp; Sons</title>
<item><title>Ferry timetable</title><link>https://harbour.example/ferry</link>
<pubDate>Mon, 04 Mar 2024 09:00:00 GMT</pubDate>
<description>{text}</description></item></channel></rss>"""


def test_the_corpus_tab_lists_feeds_with_their_last_poll(tmp_path_factory, tmp_path):
    """Issue 16: feeds polled by `assistant ingest FEED` or `assistant watch` (another process) show up with
    their last poll and its result, escaped; before any, the table says how to add one."""
    from index.chunk import ChunkSettings
    from index.feeds import HostPacer, ingest_feed
    from index.ingest import open_for_writing
    from tests.fakes import FakeEncoder
    from ui.app import build_app

    engine = make_ui_assistant(tmp_path_factory)
    try:
        ev = Events(engine)
        assert ev.list_feeds() == [] and "No feeds yet" in ev.feeds_table()
        feed = tmp_path / "harbour.rss"
        feed.write_text(RSS.format(text="The ferry will leave an hour earlier from Monday, the port said. " * 12))
        writer = open_for_writing(engine.store.folder, FakeEncoder())
        try:
            ingest_feed(writer, str(feed), FakeEncoder(), ChunkSettings(), HostPacer(0.0))
        finally:
            writer.close()
        [info] = ev.list_feeds()
        assert info.url == str(feed) and info.title == "Harbour & Sons" and info.items_seen == 1
        assert info.last_poll and info.last_status == "new items"
        table = ev.feeds_table()
        assert table.count("<tr>") == 2 and "Harbour &amp; Sons" in table and "new items" in table
        assert info.last_poll.replace("T", " ")[:16] in table
        app = build_app(engine, examples=["What did IBM say?"], secret="s" * 16)
        blocks = {getattr(b, "elem_id", None): b for b in app.blocks.values()}
        assert "Harbour &amp; Sons" in blocks["feeds-table"].value
    finally:
        engine.close()
