"""URLs: a local web server serves an article page, a 404, a PDF, an empty page and a script-only page."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from index.fetch import fetch_html
from index.ingest import build_index
from index.load import InputError
from index.store import EmbeddedStore

ARTICLE = """<!doctype html><html><head><title>Harbour bridge reopens | Daily Planet</title>
<meta property="og:title" content="Harbour bridge reopens after repairs">
<meta name="author" content="Lois Lane">
<meta property="article:published_time" content="2024-03-05T08:00:00Z">
<meta property="og:site_name" content="Daily Planet">
<script>var tracking = "SCRIPTTEXT";</script><style>.ad{display:none}</style></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">NAVLINK</a></li></ul></nav>
<article>
<h1>Harbour bridge reopens after repairs</h1>
<p>The harbour bridge reopened to traffic on Tuesday after eight months of repairs costing 12.5 million dollars.</p>
<p>Engineers replaced the corroded steel cables and resurfaced the deck, the transport department said.</p>
<p>Subscribe to our newsletter</p>
<p>Commuters welcomed the reopening, which cuts journey times between north and south by forty minutes.</p>
<p>Mayor Perry White said the project finished two weeks ahead of schedule and under budget.</p>
</article>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>COMMENTTEXT What a waste of money this bridge was, honestly.</p></div></section>
<footer><p>FOOTERTEXT About us | Contact</p></footer>
<script>console.log("MORESCRIPT")</script>
</body></html>"""

PAGES = {
    "/news/bridge": (200, "text/html; charset=utf-8", ARTICLE.encode()),
    "/report.pdf": (200, "application/pdf", b"%PDF-1.4 binary"),
    "/empty": (200, "text/html", b"   "),
    "/scripts": (200, "text/html", b"<html><head><script>var a = 1;</script><style>p{}</style></head><body>"
                                   b"<script>alert(1)</script></body></html>"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server name
        if self.path == "/slow":
            time.sleep(1)
        status, kind, body = PAGES.get(self.path, (404, "text/html", b"<h1>Not found</h1>"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


def test_url_is_fetched_and_its_main_text_stored(server, tmp_index, fake_encoder):
    url = f"{server}/news/bridge"
    report = build_index([url], tmp_index, fake_encoder)
    assert report.added == [url] and report.skipped == []
    snapshot = EmbeddedStore.open(tmp_index).snapshot()
    article = snapshot.article(url)
    assert article.title == "Harbour bridge reopens after repairs"
    assert article.url == url and article.path is None
    assert article.authors == ("Lois Lane",) and article.published_at == "2024-03-05"
    assert article.source == "Daily Planet"
    assert "Engineers replaced the corroded steel cables" in article.body
    assert "Mayor Perry White said the project finished" in article.body
    for furniture in ("SCRIPTTEXT", "MORESCRIPT", "NAVLINK", "COMMENTTEXT", "FOOTERTEXT", "Subscribe to our"):
        assert furniture not in article.body
    positions, _ = snapshot.search_keyword("corroded cables", 3)
    assert [snapshot.chunk(int(p)).article_id for p in positions] == [url]
    again = build_index([url], tmp_index, fake_encoder)
    assert again.unchanged == [url]


@pytest.mark.parametrize(("path", "reason"), [
    ("/missing", "HTTP 404 Not Found"),
    ("/report.pdf", "not a web page (content type application/pdf)"),
    ("/empty", "empty page"),
    ("/scripts", "no readable text in the HTML (only scripts, styles or markup)"),
])
def test_failed_url_is_a_one_line_problem(server, tmp_index, fake_encoder, path, reason):
    url = f"{server}{path}"
    good = f"{server}/news/bridge"
    report = build_index([url, good], tmp_index, fake_encoder)
    assert report.added == [good]  # the next input still gets in
    (problem,) = report.skipped
    assert (problem.where, problem.reason) == (url, reason)
    assert "\n" not in str(problem)


def test_unreachable_server(tmp_index, fake_encoder):
    url = closed_port_url()
    report = build_index([url], tmp_index, fake_encoder)
    (problem,) = report.skipped
    assert problem.where == url and problem.reason.startswith("cannot fetch:") and "\n" not in str(problem)


def test_fetch_html_errors_are_input_errors(server):
    assert "Harbour bridge" in fetch_html(f"{server}/news/bridge")
    with pytest.raises(InputError, match="HTTP 404"):
        fetch_html(f"{server}/nothing-here")


def test_slow_server_times_out_with_a_clear_reason(server):
    with pytest.raises(InputError, match="cannot fetch: .*timed out"):
        fetch_html(f"{server}/slow", timeout=0.3)
