"""More living inputs (issue 16): a sitemap as a feed of pages (a local HTTP server on 127.0.0.1) and a
folder watched for new and changed article files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from index.chunk import ChunkSettings
from index.feeds import list_feeds, parse_feed, split_inputs, watch
from index.folder_watch import FolderState, changed_files
from index.ingest import open_for_writing
from index.load import InputError
from index.store import EmbeddedStore
from tests.fakes import FakeEncoder
from tests.test_feeds import PAGE, Site, ingest, no_wait, stored

ZOO_PAGE = """<html><head><title>Zoo page</title></head><body><article><h1>Zoo welcomes giraffe</h1>
<p>The city zoo welcomed a baby giraffe on Monday, and the keepers named her Daisy after a vote.</p>
<p>Visitors queued from early morning to see the calf take her first steps in the enclosure.</p>
</article></body></html>"""


def sitemap(base: str, zoo_lastmod: str = "2024-04-02") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/bridge</loc><lastmod>2024-03-05T10:00:00+00:00</lastmod></url>
<url><loc>{base}/zoo</loc><lastmod>{zoo_lastmod}</lastmod></url>
<url><loc>{base}/gone</loc></url>
<url><lastmod>2024-01-01</lastmod></url>
</urlset>"""


@pytest.fixture
def site():
    s = Site()
    s.routes["/bridge"] = (200, "text/html", PAGE.encode())
    s.routes["/zoo"] = (200, "text/html", ZOO_PAGE.encode())
    s.routes["/sitemap.xml"] = (200, "application/xml", sitemap(s.base).encode())
    s.routes["/index.xml"] = (200, "application/xml", b'<?xml version="1.0"?><sitemapindex xmlns='
                              b'"http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>http://x/a.xml</loc>'
                              b"</sitemap></sitemapindex>")
    yield s
    s.server.shutdown()


def test_a_sitemap_is_a_feed_of_pages_with_lastmod_as_date(site, tmp_index):
    result, report = ingest(tmp_index, site.base + "/sitemap.xml")
    articles = stored(tmp_index)
    assert sorted(articles) == [site.base + "/bridge", site.base + "/zoo"]
    bridge = articles[site.base + "/bridge"]
    assert bridge.published_at == "2024-03-05" and bridge.title and "bridge" in bridge.title.lower()
    assert bridge.source == "127.0.0.1:" + site.base.rsplit(":", 1)[1]  # the sitemap's host
    assert articles[site.base + "/zoo"].published_at == "2024-04-02"
    lines = [str(p) for p in report.skipped]
    assert any("/gone" in line and "HTTP 404" in line for line in lines)  # a dead link: one line
    assert any("url 4" in line and "no <loc>" in line for line in lines)
    assert all("\n" not in line and f"feed {site.base}/sitemap.xml" in line for line in lines)
    assert result.title is not None and len(report.added) == 2


def test_a_sitemap_polled_again_fetches_only_pages_whose_lastmod_changed(site, tmp_index):
    ingest(tmp_index, site.base + "/sitemap.xml")
    site.routes["/sitemap.xml"] = (200, "application/xml", sitemap(site.base, zoo_lastmod="2024-04-09").encode())
    hits = dict(site.hits)
    result, report = ingest(tmp_index, site.base + "/sitemap.xml")
    assert site.hits["/zoo"] == hits["/zoo"] + 1 and site.hits["/bridge"] == hits["/bridge"]
    assert stored(tmp_index)[site.base + "/zoo"].published_at == "2024-04-09"
    assert result.skipped_seen == 1 and report.unchanged + report.updated == [site.base + "/zoo"]
    result, _ = ingest(tmp_index, site.base + "/sitemap.xml")  # the same bytes: a conditional GET, 304
    assert result.status == "not modified"
    assert {f.url for f in list_feeds(tmp_index)} == {site.base + "/sitemap.xml"}


def test_sitemap_files_indexes_and_malformed_ones(site, tmp_path, tmp_index):
    path = tmp_path / "sitemap.xml"
    path.write_text(sitemap(site.base), encoding="utf-8")
    assert split_inputs([str(path), site.base + "/sitemap.xml"]) == ([str(path), site.base + "/sitemap.xml"], [])
    result, report = ingest(tmp_index, str(path))
    assert result.title == "sitemap" and len(report.added) == 2
    result, _ = ingest(tmp_index, site.base + "/index.xml")
    assert result.title is None and "a sitemap index (1 sitemaps)" in result.status
    with pytest.raises(InputError, match="malformed sitemap"):
        parse_feed(b"<?xml version='1.0'?><urlset><url><loc>http://a/b</loc></url", "x.xml")


# -- a watched folder -------------------------------------------------------------------------------------


def _write(path: Path, text: str, age: float = 60.0) -> Path:
    """A file last modified `age` seconds ago (settled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def _watch(store, target: Path, rounds: int = 1, between=lambda: None):
    """`between` runs in the pause after each round (what arrives while the watch sleeps)."""
    return watch(store, target, FakeEncoder(), ChunkSettings(), every=60, rounds=rounds, pacer=no_wait(),
                 sleep=lambda s: between())


def test_a_watched_folder_ingests_new_and_changed_files_once(tmp_path, tmp_index, capsys):
    inbox = tmp_path / "inbox"
    _write(inbox / "bridge.txt", "Bridge reopens\n\nThe harbour bridge reopened on Tuesday after repairs.\n")
    zoo = {"id": "zoo", "title": "Zoo welcomes giraffe", "body": "The zoo welcomed a giraffe.",
           "published_at": "2024-04-02"}
    _write(inbox / "day" / "feed.jsonl", json.dumps(zoo) + "\n")
    _write(inbox / "page.html", "<html><head><title>Flood</title></head><body><p>The river flooded the farms "
                                "near the village on Sunday.</p></body></html>")
    _write(inbox / ".hidden.txt", "Secret\n\nNot for the index.\n")
    _write(inbox / "upload.part", "half a file")
    arrivals = []

    def arrive():
        if arrivals:
            return  # after the second round: nothing new, so the third round says nothing
        arrivals.append(1)
        _write(inbox / "bridge.txt", "Bridge reopens\n\nThe harbour bridge reopened on Tuesday; cars return.\n",
               age=30)
        _write(inbox / "new.txt", "School opens\n\nA new school opened in the north of the town.\n")
        _write(inbox / "broken.jsonl", '{"id": "ok", "title": "Fine", "body": "A fine record."}\n{not json\n')

    store = open_for_writing(tmp_index, FakeEncoder())
    try:
        assert _watch(store, inbox, rounds=3, between=arrive) == 3
    finally:
        store.close()
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert lines[0] == f"folder {inbox}: 3 new or changed files; added 3, updated 0, unchanged 0"
    assert lines[1] == f"folder {inbox}: 3 new or changed files; added 2, updated 1, unchanged 0"
    bad = [line for line in err.splitlines() if line]
    assert len(bad) == 1 and "broken.jsonl:2: malformed JSON" in bad[0]  # once, not every round
    assert sorted(stored(tmp_index)) == ["bridge", "new", "ok", "page", "zoo"]  # the ids `ingest FOLDER` gives
    snapshot = EmbeddedStore.open(tmp_index).snapshot()
    try:
        assert "cars return" in snapshot.article("bridge").body
    finally:
        snapshot.close()


def test_a_file_still_being_written_waits_for_the_next_round(tmp_path):
    inbox = tmp_path / "inbox"
    fresh = _write(inbox / "fresh.txt", "Fresh\n\nJust written.\n", age=0.0)
    old = _write(inbox / "old.txt", "Old\n\nWritten a minute ago.\n")
    state = FolderState()
    assert [p for p, _ in changed_files(inbox, state, settle=2.0)] == [old]
    later = time.time() + 5
    assert [p for p, _ in changed_files(inbox, state, settle=2.0, clock=lambda: later)] == [fresh, old]


def test_a_feeds_file_may_name_a_folder_and_the_cli_watches_one(tmp_path, tmp_index, monkeypatch, capsys):
    import assistant.commands
    from assistant.cli import main

    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())
    inbox = tmp_path / "inbox"
    _write(inbox / "a.txt", "Alpha\n\nThe first story of the day.\n")
    assert main(["watch", str(inbox), "--once", "--index", str(tmp_index)]) == 0
    assert "added 1" in capsys.readouterr().out
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"# a folder and a dead feed\n{inbox}\nhttp://127.0.0.1:9/dead.xml\n")
    _write(inbox / "b.txt", "Beta\n\nThe second story of the day.\n")
    assert main(["watch", str(feeds), "--once", "--index", str(tmp_index)]) == 0
    out, err = capsys.readouterr()
    assert f"folder {inbox}: 2 new or changed files; added 1, updated 0, unchanged 1" in out  # a new process
    assert err.count("dead.xml: cannot fetch") == 1
    assert sorted(stored(tmp_index)) == ["a", "b"]
