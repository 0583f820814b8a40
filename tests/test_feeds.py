"""Feeds: RSS 2.0 and Atom files and URLs (a local HTTP server on 127.0.0.1 for pages and conditional GET),
new, repeated, updated and malformed items, a dead link, a feed that is not XML; `watch` and retention."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import assistant.commands
from assistant.cli import main
from index.chunk import ChunkSettings
from index.feeds import HostPacer, ingest_feed, list_feeds, parse_every, parse_feed, watch
from index.ingest import open_for_writing
from index.load import InputError
from index.store import EmbeddedStore
from tests.fakes import FakeEncoder

LONG = ("The council approved the new harbour plan after a long debate on Tuesday evening. " * 10).strip()
PAGE = """<html><head><title>Bridge page</title></head><body><nav>Home | News</nav><article>
<h1>Bridge reopens</h1><p>The harbour bridge reopened on Tuesday after two years of repairs.</p>
<p>Engineers replaced every rusty cable and painted the towers green, officials said.</p>
<p>Commuters welcomed the shorter journey into the city centre on the first morning.</p>
</article></body></html>"""


def rss(base: str, bridge_summary: str = "Bridge reopens.", bridge_date: str = "Tue, 05 Mar 2024 10:00:00 GMT") -> str:
    return f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Harbour Gazette</title><link>{base}/</link>
<item><title>Council approves harbour plan</title><link>{base}/council</link><guid>{base}/council</guid>
<pubDate>Mon, 04 Mar 2024 09:00:00 GMT</pubDate><author>ann@example.org (Ann Reporter)</author>
<content:encoded><![CDATA[<p>{LONG}</p>]]></content:encoded></item>
<item><title>Bridge reopens</title><link>{base}/bridge</link><pubDate>{bridge_date}</pubDate>
<description>{bridge_summary}</description></item>
<item><title>Gone story</title><link>{base}/gone</link><description>Short.</description></item>
<item><title>No link at all</title><description>Nothing to fetch or to key on.</description></item>
</channel></rss>"""


GIRAFFE = "The city zoo welcomed a baby giraffe on Monday and keepers named her Daisy. " * 10
ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Times</title><id>urn:atom-times</id>
<updated>2024-04-02T12:00:00Z</updated>
<entry><title>Zoo welcomes giraffe</title><id>urn:zoo</id><link href="https://atom.example/zoo"/>
<updated>2024-04-02T12:00:00Z</updated><author><name>Zed Keeper</name></author>
<content type="html">&lt;p&gt;{GIRAFFE}&lt;/p&gt;</content>
</entry></feed>"""


class Site:
    """Routes path -> (status, content type, body); counts requests; answers If-None-Match with 304."""

    def __init__(self):
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.hits: dict[str, int] = {}
        self.conditional: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                status, kind, body = site.routes.get(self.path, (404, "text/plain", b"not found"))
                etag = f'"{hash(body) & 0xFFFF:x}"'
                if self.headers.get("If-None-Match"):
                    site.conditional.append(self.path)
                    if self.headers["If-None-Match"] == etag and status == 200:
                        self.send_response(304)
                        self.end_headers()
                        return
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def site():
    s = Site()
    s.routes["/bridge"] = (200, "text/html", PAGE.encode())
    s.routes["/feed.xml"] = (200, "application/rss+xml", rss(s.base).encode())
    s.routes["/atom.xml"] = (200, "application/atom+xml", ATOM.encode())
    s.routes["/notxml"] = (200, "application/rss+xml", b"this is plain text, not a feed at all")
    s.routes["/broken.xml"] = (200, "application/rss+xml", b"<?xml version='1.0'?><rss><channel><title>x</ti")
    yield s
    s.server.shutdown()


def no_wait() -> HostPacer:
    return HostPacer(0.0)


def ingest(index_dir: Path, source: str, encoder=None):
    store = open_for_writing(index_dir, encoder or FakeEncoder())
    try:
        return ingest_feed(store, source, encoder or FakeEncoder(), ChunkSettings(), no_wait())
    finally:
        store.close()


def stored(index_dir: Path) -> dict:
    snapshot = EmbeddedStore.open(index_dir).snapshot()
    try:
        return {a.id: a for a in snapshot.articles()}
    finally:
        snapshot.close()


def test_rss_items_become_articles_with_page_text_when_the_feed_has_only_a_summary(site, tmp_index):
    result, report = ingest(tmp_index, site.base + "/feed.xml")
    assert result.title == "Harbour Gazette" and result.status == "new items"
    articles = stored(tmp_index)
    assert sorted(articles) == [site.base + "/bridge", site.base + "/council"]
    council = articles[site.base + "/council"]
    assert council.source == "Harbour Gazette" and council.published_at == "2024-03-04"
    assert council.url == site.base + "/council" and council.title == "Council approves harbour plan"
    assert site.hits.get("/council") is None  # full text in the feed: no page fetched
    snapshot = EmbeddedStore.open(tmp_index).snapshot()
    bridge = snapshot.article(site.base + "/bridge")
    assert "rusty cable" in bridge.body and "Home | News" not in bridge.body  # the page's main text
    assert bridge.published_at == "2024-03-05" and bridge.source == "Harbour Gazette"
    positions, _ = snapshot.search_keyword("rusty cable towers", 3)
    assert snapshot.chunk(int(positions[0])).article_id == site.base + "/bridge"
    snapshot.close()
    # one line each for the dead link and the item without link or id, naming the feed and the item
    lines = [str(p) for p in report.skipped]
    assert len(lines) == 2
    feed = f"feed {site.base}/feed.xml"
    assert any(line.startswith(f"{feed}: item 'Gone story' ({site.base}/gone)") and "HTTP 404" in line
               for line in lines)
    assert any(line.startswith(feed) and "'No link at all'" in line and "no link and no id" in line for line in lines)


def test_repeated_items_are_skipped_without_fetching_and_updated_ones_replace(site, tmp_index):
    ingest(tmp_index, site.base + "/feed.xml")
    site.routes["/feed.xml"] = (200, "application/rss+xml", rss(site.base).encode() + b"\n")  # new ETag, same items
    hits = dict(site.hits)
    result, report = ingest(tmp_index, site.base + "/feed.xml")
    assert report.added == report.updated == [] and result.skipped_seen == 2
    assert site.hits.get("/bridge") == hits["/bridge"]  # not fetched again
    assert site.hits["/gone"] == hits["/gone"] + 1  # a failed item is tried again
    # the bridge item is updated: new date and summary; its page changed too
    updated = rss(site.base, "Bridge reopens, now with a toll.", "Wed, 06 Mar 2024 08:00:00 GMT")
    site.routes["/feed.xml"] = (200, "application/rss+xml", updated.encode())
    site.routes["/bridge"] = (200, "text/html", PAGE.replace("painted the towers green", "added a toll booth").encode())
    result, report = ingest(tmp_index, site.base + "/feed.xml")
    assert report.updated == [site.base + "/bridge"] and report.added == []
    snapshot = EmbeddedStore.open(tmp_index).snapshot()
    assert "toll booth" in snapshot.article(site.base + "/bridge").body
    assert snapshot.article(site.base + "/bridge").published_at == "2024-03-06"
    snapshot.close()


def test_conditional_get_and_feed_state_in_the_database(site, tmp_index):
    ingest(tmp_index, site.base + "/feed.xml")
    result, report = ingest(tmp_index, site.base + "/feed.xml")
    assert result.status == "not modified" and "/feed.xml" in site.conditional
    assert report.added == [] and site.hits["/feed.xml"] == 2
    (info,) = list_feeds(tmp_index)
    assert info.url == site.base + "/feed.xml" and info.title == "Harbour Gazette"
    assert info.items_seen == 2 and info.last_status == "not modified" and info.last_poll


def test_atom_file_and_url(site, tmp_path, tmp_index):
    path = tmp_path / "atom.xml"
    path.write_text(ATOM, encoding="utf-8")
    result, report = ingest(tmp_index, str(path))
    assert report.added == ["https://atom.example/zoo"] and result.title == "Atom Times"
    article = EmbeddedStore.open(tmp_index).snapshot().article("https://atom.example/zoo")
    assert article.source == "Atom Times" and article.authors == ("Zed Keeper",)
    assert article.published_at == "2024-04-02" and "baby giraffe" in article.body
    # the same item in the same feed served over HTTP: already stored by its link, skipped cheaply
    result, report = ingest(tmp_index, site.base + "/atom.xml")
    assert report.added == [] and result.skipped_seen == 1


@pytest.mark.parametrize(("path", "reason"), [("/notxml", "not an RSS or Atom feed"),
                                              ("/broken.xml", "malformed feed"),
                                              ("/missing.xml", "HTTP 404")])
def test_a_feed_that_is_not_a_feed_is_one_line(site, tmp_index, path, reason):
    result, report = ingest(tmp_index, site.base + path)
    (problem,) = report.skipped
    assert str(problem).startswith(f"feed {site.base}{path}: ") and reason in str(problem)
    assert "\n" not in str(problem)
    assert result.title is None
    with pytest.raises(InputError):
        parse_feed(b"<html><body>no</body></html>", "x")


def test_watch_polls_every_feed_and_keeps_going_through_errors(site, tmp_path, tmp_index, capsys):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"# my feeds\n{site.base}/feed.xml\nhttp://127.0.0.1:9/dead.xml\n{site.base}/notxml\n"
                     f"{site.base}/atom.xml\n")
    store = open_for_writing(tmp_index, FakeEncoder())
    sleeps = []
    rounds = watch(store, feeds, FakeEncoder(), ChunkSettings(), every=1800, rounds=2, pacer=no_wait(),
                   sleep=sleeps.append)
    store.close()
    assert rounds == 2 and len(sleeps) == 1 and sleeps[0] > 1700
    out, err = capsys.readouterr()
    assert out.count(f"feed {site.base}/feed.xml: new items; added 2") == 1
    assert f"feed {site.base}/feed.xml: not modified" in out and f"feed {site.base}/atom.xml: new items; added 1" in out
    assert err.count("feed http://127.0.0.1:9/dead.xml: cannot fetch") == 2  # one line a round
    assert err.count(f"feed {site.base}/notxml: not an RSS or Atom feed") == 2
    assert sorted(stored(tmp_index)) == sorted([site.base + "/bridge", site.base + "/council", "https://atom.example/zoo"])
    assert {f.url for f in list_feeds(tmp_index)} >= {site.base + "/feed.xml", site.base + "/atom.xml"}


def test_host_pacer_spaces_requests_to_one_host():
    now = [0.0]
    waited = []
    pacer = HostPacer(2.0, clock=lambda: now[0], sleep=lambda s: (waited.append(s), now.__setitem__(0, now[0] + s)))
    pacer.wait("http://a.example/1")
    pacer.wait("http://b.example/1")
    now[0] += 0.5
    pacer.wait("http://a.example/2")
    assert waited == [1.5]
    assert parse_every("30m") == 1800 and parse_every("2h") == 7200 and parse_every("45") == 45
    with pytest.raises(ValueError):
        parse_every("soon")


# --- the command line ------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())
    return lambda *args: main([*args])


def test_cli_ingest_detects_feeds_and_watch_once(site, tmp_path, tmp_index, cli, capsys):
    path = tmp_path / "news.rss"
    path.write_text(rss(site.base), encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text("Weather\n\nRain is expected on Friday along the coast.\n")
    assert cli("ingest", str(path), str(plain), "--index", str(tmp_index), "--no-progress") == 0
    out = capsys.readouterr().out
    assert "feed " + str(path) + " (Harbour Gazette): new items" in out and "added 2" in out and "added 1" in out
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(site.base + "/atom.xml\n")
    assert cli("watch", str(feeds), "--once", "--index", str(tmp_index)) == 0
    assert "added 1" in capsys.readouterr().out
    assert len(stored(tmp_index)) == 4


def test_cli_remove_before_and_source_in_one_transaction(tmp_path, tmp_index, cli, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, source, day in [("old-a", "Wire", "2020-01-05"), ("old-b", "Gazette", "2020-02-01"),
                              ("new-a", "Wire", "2024-05-01"), ("undated", "Wire", None)]:
        front = f"---\ntitle: {name} story\nsource: {source}\n" + (f"published_at: {day}\n" if day else "") + "---\n"
        (folder / f"{name}.md").write_text(front + f"The {name} report describes item {name} in detail.\n")
    assert cli("ingest", str(folder), "--index", str(tmp_index), "--no-progress") == 0
    capsys.readouterr()
    generation = EmbeddedStore.open(tmp_index).stats().generation
    assert cli("remove", "--before", "2021-01-01", "--source", "wire", "--index", str(tmp_index)) == 0
    assert capsys.readouterr().out.splitlines() == ["removed old-a"]
    assert cli("remove", "--before", "2021-01-01", "--index", str(tmp_index)) == 0
    assert sorted(stored(tmp_index)) == ["new-a", "undated"]  # undated articles are never "before"
    assert EmbeddedStore.open(tmp_index).stats().generation == generation + 2  # one commit each
    assert cli("remove", "--source", "Wire", "--index", str(tmp_index)) == 0
    assert stored(tmp_index) == {}
    assert cli("remove", "--before", "yesterday", "--index", str(tmp_index)) == 2
    assert cli("remove", "--index", str(tmp_index)) == 2
