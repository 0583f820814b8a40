"""RSS 2.0 and Atom feeds → articles (feedparser), and the state that makes polling them cheap and polite.

Each item becomes an article: its link is its id and url, its title, date and author come from the feed,
its source is the feed's title. When the feed carries only a summary (under FULL_TEXT_CHARS of text), the
item's page is fetched and its main text extracted (index/fetch.py, index/html.py). An item already seen
in this feed with the same version (its updated/published stamp, else a hash of title and summary), or
whose link is already stored, is skipped before anything is fetched; an item whose version changed is
fetched again and replaces the stored article. Feed state lives in the index's SQLite (tables `feeds`,
`feed_items`): ETag and Last-Modified for conditional GETs, the last poll and its outcome, items seen.
Every bad item is one line naming the feed and the item; a bad feed is one line naming the feed.
"""

from __future__ import annotations

import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from index.articles import Article, Problem, text_hash
from index.fetch import USER_AGENT
from index.load import MAX_FILE_BYTES, InputError, _article_from_html, _make_article, decode_bytes

FULL_TEXT_CHARS = 600  # an item with less text than this in the feed gets its page fetched
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
              "text/xml", "application/feed+xml")
_FEED_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*|<\?[^>]*>\s*)*<(rss|feed|rdf:RDF)\b", re.DOTALL)


@dataclass(frozen=True)
class Response:
    status: int  # 200, or 304 (not modified)
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None


def http_get(url: str, etag: str | None = None, last_modified: str | None = None, timeout: float = 20.0
             ) -> Response:
    """GET with the validators of the previous poll; 304 comes back as a Response, failures as InputError."""
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            body = response.read(MAX_FILE_BYTES + 1)
            if len(body) > MAX_FILE_BYTES:
                raise InputError(f"over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
            return Response(response.status, body, response.headers.get_content_type(),
                            response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except urllib.error.HTTPError as err:
        if err.code == 304:
            return Response(304, etag=etag, last_modified=last_modified)
        raise InputError(f"HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise InputError(f"cannot fetch: {getattr(err, 'reason', err)}") from None


def looks_like_feed(data: bytes, content_type: str = "") -> bool:
    """An RSS, Atom or sitemap document (index/sitemaps.py: a sitemap is read as a feed of pages)."""
    from index.sitemaps import looks_like_sitemap

    return bool(_FEED_START.match(data[:4096].lstrip(b"\xef\xbb\xbf"))) or looks_like_sitemap(data) or (
        content_type in FEED_TYPES and b"<" in data[:512])


def is_feed_file(path: Path) -> bool:
    """A file that is an RSS or Atom document (by its first bytes, whatever its suffix)."""
    try:
        with open(path, "rb") as handle:
            return looks_like_feed(handle.read(4096))
    except OSError:
        return False


@dataclass
class Item:
    key: str  # guid or link: what "seen" means
    version: str
    link: str | None
    title: str
    fields: dict  # for _make_article
    text_in_feed: str  # the item's own text (content, else summary), HTML removed


@dataclass
class Feed:
    title: str
    items: list[Item]
    problems: list[str] = field(default_factory=list)  # "item 'x': reason"


def parse_feed(data: bytes, where: str) -> Feed:
    """An RSS 2.0 or Atom document (or a sitemap) → its title and items; InputError when it is not a feed."""
    import feedparser

    from index.sitemaps import looks_like_sitemap, parse_sitemap

    if looks_like_sitemap(data):
        return parse_sitemap(data, where)
    if not looks_like_feed(data):
        raise InputError("not an RSS or Atom feed or a sitemap (no <rss>, <feed> or <urlset> element)")
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    if parsed.bozo and not parsed.entries:
        raise InputError(f"malformed feed ({_bozo(parsed)})")
    title = _text(parsed.feed.get("title")) or urllib.parse.urlsplit(where).netloc or Path(where).stem
    feed = Feed(title, [])
    for number, entry in enumerate(parsed.entries, 1):
        link = (entry.get("link") or "").strip() or None
        name = _text(entry.get("title")) or link or f"item {number}"
        key = (entry.get("id") or link or "").strip()
        if not key:
            feed.problems.append(f"item '{name}': no link and no id")
            continue
        if link and not re.match(r"^https?://", link, re.IGNORECASE):
            link = urllib.parse.urljoin(where, link) if re.match(r"^https?://", where) else None
        content = " ".join(c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict))
        text = _html_text(content or entry.get("summary") or "")
        stamp = str(tuple(dict.get(entry, "updated_parsed") or dict.get(entry, "published_parsed") or ()))
        version = stamp + "|" + text_hash(name + "\n" + text)
        fields = {"id": link or key, "title": name, "url": link, "source": feed.title,
                  "published_at": _date(entry), "authors": _authors(entry), "body": text}
        feed.items.append(Item(key, version, link, name, fields, text))
    return feed


def _bozo(parsed) -> str:
    err = parsed.get("bozo_exception")
    return str(getattr(err, "getMessage", lambda: err)()).strip().splitlines()[0] if err else "unreadable"


def _text(value) -> str:
    return re.sub(r"\s+", " ", _html_text(value or "")).strip()


def _html_text(html: str) -> str:
    if "<" not in html:
        return html.strip()
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(html).text_content().strip()
    except Exception:  # noqa: BLE001 - not HTML after all (or empty): keep the text
        return re.sub(r"<[^>]+>", " ", html).strip()


def _date(entry) -> str | None:
    for key in ("published_parsed", "updated_parsed"):
        value = dict.get(entry, key)  # dict.get: no feedparser fallback mapping (and its warning)
        if value:
            return datetime(*value[:6], tzinfo=timezone.utc).date().isoformat()
    return None


def _authors(entry) -> list[str]:
    names = [a.get("name", "") for a in entry.get("authors", []) if isinstance(a, dict)]
    names = [n.strip() for n in names if n and n.strip()]
    return names or ([entry["author"].strip()] if entry.get("author") else [])


# -- polling ----------------------------------------------------------------------------------------------


@dataclass
class PollResult:
    feed: str
    title: str | None = None
    status: str = ""  # "new items", "not modified", "no new items", or the problem
    articles: list[Article] = field(default_factory=list)
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (key, version, article id) to record
    problems: list[Problem] = field(default_factory=list)
    skipped_seen: int = 0
    etag: str | None = None
    last_modified: str | None = None


class HostPacer:
    """At most one request per host every `delay` seconds."""

    def __init__(self, delay: float = 1.0, clock=time.monotonic, sleep=time.sleep):
        self.delay, self.clock, self.sleep = delay, clock, sleep
        self.last: dict[str, float] = {}

    def wait(self, url: str) -> None:
        host = urllib.parse.urlsplit(url).netloc.lower()
        if host in self.last:
            remaining = self.last[host] + self.delay - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self.last[host] = self.clock()


def poll(conn, source: str, pacer: HostPacer | None = None, get: Callable = http_get,
         fetch_page: Callable[[str], str] | None = None) -> PollResult:
    """Read one feed (a URL, with the stored ETag/Last-Modified, or a file) and turn its new or updated items
    into articles; nothing is stored here (see ingest_feed)."""
    pacer = pacer or HostPacer()
    result = PollResult(source)
    state = feed_state(conn, source)
    is_url = bool(re.match(r"^https?://", source, re.IGNORECASE))
    try:
        if is_url:
            pacer.wait(source)
            response = get(source, state.get("etag"), state.get("last_modified"))
            if response.status == 304:
                result.status = "not modified"
                return result
            data = response.body
        else:
            data = Path(source).read_bytes()
        feed = parse_feed(data, source)
        if is_url:  # validators only of a feed that was read: a broken one is fetched in full again
            result.etag, result.last_modified = response.etag, response.last_modified
    except InputError as err:
        result.status = str(err)
        result.problems.append(Problem(f"feed {source}", str(err)))
        return result
    except OSError as err:
        result.status = f"cannot read: {err.strerror or err}"
        result.problems.append(Problem(f"feed {source}", result.status))
        return result
    result.title = feed.title
    result.problems += [Problem(f"feed {source}", p) for p in feed.problems]
    seen = seen_items(conn, source)
    fetch_page = fetch_page or (lambda url: _fetch_page(url, pacer))
    for item in feed.items:
        if seen.get(item.key) == item.version:
            result.skipped_seen += 1
            continue
        stored_id = stored_article_for(conn, item.link) if item.link else None
        if stored_id is not None and item.key not in seen:  # stored already (another feed, a URL ingest)
            result.seen.append((item.key, item.version, stored_id))
            result.skipped_seen += 1
            continue
        try:
            article = _item_article(item, fetch_page)
        except InputError as err:
            result.problems.append(Problem(f"feed {source}: item '{item.title}' ({item.link or item.key})", str(err)))
            continue
        result.articles.append(article)
        result.seen.append((item.key, item.version, article.id))
    result.status = "new items" if result.articles else "no new items"
    return result


def _item_article(item: Item, fetch_page: Callable[[str], str]) -> Article:
    fields = dict(item.fields)
    if len(item.text_in_feed) < FULL_TEXT_CHARS:
        if not item.link:
            if not item.text_in_feed:
                raise InputError("no text in the feed and no link to fetch it from")
        else:
            html = fetch_page(item.link)
            page = _article_from_html(html, article_id=fields["id"], where=item.link, url=item.link)
            fields["body"] = page.body
            fields["title"] = fields["title"] or page.title  # a sitemap's pages have no title of their own
            fields["authors"] = fields["authors"] or list(page.authors)
            fields["published_at"] = fields["published_at"] or page.published_at
    return _make_article(fields, default_id=fields["id"], where=item.link or item.key, path=None)


def _fetch_page(url: str, pacer: HostPacer) -> str:
    pacer.wait(url)
    response = http_get(url)
    if response.content_type not in ("text/html", "application/xhtml+xml", "text/plain"):
        raise InputError(f"not a web page (content type {response.content_type})")
    if not response.body.strip():
        raise InputError("empty page")
    return decode_bytes(response.body)[0]


# -- state in the index's database ------------------------------------------------------------------------


def feed_state(conn, source: str) -> dict:
    row = conn.execute("SELECT title, etag, last_modified, last_poll, last_status, items_seen FROM feeds"
                       " WHERE url = ?", (source,)).fetchone()
    keys = ("title", "etag", "last_modified", "last_poll", "last_status", "items_seen")
    return dict(zip(keys, row, strict=True)) if row else {}


def seen_items(conn, source: str) -> dict[str, str]:
    return dict(conn.execute("SELECT item_key, version FROM feed_items WHERE feed_url = ?", (source,)))


def stored_article_for(conn, link: str) -> str | None:
    row = conn.execute("SELECT id FROM articles WHERE id = ? OR url = ? LIMIT 1", (link, link)).fetchone()
    return row[0] if row else None


def record_poll(conn, result: PollResult, stored_ids: set[str]) -> None:
    """Remember the validators, the poll and the items now stored (an item that failed is tried again)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    conn.execute("BEGIN IMMEDIATE")
    try:
        state = feed_state(conn, result.feed)
        conn.execute(
            "INSERT INTO feeds (url, title, etag, last_modified, last_poll, last_status) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET title = COALESCE(excluded.title, title),"
            " etag = COALESCE(excluded.etag, etag), last_modified = COALESCE(excluded.last_modified, last_modified),"
            " last_poll = excluded.last_poll, last_status = excluded.last_status",
            (result.feed, result.title or state.get("title"), result.etag, result.last_modified, now, result.status))
        conn.executemany("INSERT OR REPLACE INTO feed_items (feed_url, item_key, version, article_id)"
                         " VALUES (?, ?, ?, ?)",
                         [(result.feed, k, v, a) for k, v, a in result.seen if a in stored_ids])
        conn.execute("UPDATE feeds SET items_seen = (SELECT COUNT(*) FROM feed_items WHERE feed_url = ?)"
                     " WHERE url = ?", (result.feed, result.feed))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class FeedInfo:
    url: str
    title: str | None
    last_poll: str | None  # ISO timestamp (UTC), None before the first poll
    last_status: str | None
    items_seen: int


def list_feeds(index_dir: Path | str) -> list[FeedInfo]:
    """The feeds this index has ingested or polled, with their last poll (for the app's Corpus tab)."""
    from index import database as db

    path = Path(index_dir) / db.DB_NAME
    if not path.exists():
        return []
    conn = db.connect(path, readonly=True)
    try:
        rows = conn.execute("SELECT url, title, last_poll, last_status, items_seen FROM feeds ORDER BY url").fetchall()
    except Exception:  # noqa: BLE001 - an index from before feeds existed has no such table
        rows = []
    finally:
        conn.close()
    return [FeedInfo(*row) for row in rows]


# -- ingest and watch -------------------------------------------------------------------------------------


def ingest_feed(store, source: str, encoder, settings, pacer: HostPacer | None = None, get: Callable = http_get,
                fetch_page: Callable[[str], str] | None = None, progress: bool = False):
    """Poll one feed and store its new and updated items (one transaction); returns (PollResult, IngestReport)."""
    from index.ingest import IngestReport, ingest_into

    result = poll(store.conn, source, pacer, get, fetch_page)
    report = IngestReport()
    if result.articles:
        report = ingest_into(store, iter(result.articles), encoder, settings, progress=progress)
    report.skipped = result.problems + report.skipped
    stored = {r[0] for r in store.conn.execute("SELECT id FROM articles")} if result.seen else set()
    record_poll(store.conn, result, stored)
    return result, report


def read_feeds_file(path: Path) -> list[str]:
    """One feed (URL or file) a line; blank lines and # comments ignored."""
    lines = [line.split("#", 1)[0].strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def parse_every(text: str) -> float:
    """'30m', '2h', '45s', '1d' or plain seconds → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise ValueError(f"cannot read the interval '{text}' (use e.g. 30m, 2h, 90s)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def watch(store, feeds_file: Path, encoder, settings, every: float, rounds: int | None = None,
          pacer: HostPacer | None = None, out=None, err=None, sleep=time.sleep, settle: float = 2.0) -> int:
    """Poll every feed or sitemap in the file each `every` seconds (`rounds` rounds, or until interrupted):
    one line per feed polled, one per bad item or feed; errors never stop the watch. `feeds_file` may be
    a folder, and a line of the file may name one: its new and changed article files are ingested each
    round (index/folder_watch.py; `settle`: seconds a file must be left alone first). Returns the number of
    rounds run."""
    from index.folder_watch import FolderState

    pacer = pacer or HostPacer()
    out, err = out or sys.stdout, err or sys.stderr
    folders: dict[str, FolderState] = {}
    done = 0
    while rounds is None or done < rounds:
        started = time.monotonic()
        try:
            sources = [str(feeds_file)] if Path(feeds_file).is_dir() else read_feeds_file(feeds_file)
        except OSError as error:
            print(f"error: {feeds_file}: cannot read the feeds file ({error.strerror or error})", file=err)
            sources = []
        for source in sources:
            if not re.match(r"^https?://", source, re.IGNORECASE) and Path(source).is_dir():
                _watch_folder(store, Path(source), encoder, settings, folders.setdefault(source, FolderState()),
                              settle, out, err)
                continue
            try:
                result, report = ingest_feed(store, source, encoder, settings, pacer)
            except Exception as error:  # noqa: BLE001 - one feed's failure is one line; the watch goes on
                print(f"feed {source}: {type(error).__name__}: {error}", file=err)
                continue
            for problem in report.skipped:
                print(f"skipped {problem}" if problem.where != f"feed {source}" or result.title else str(problem),
                      file=err)
            if result.title is None and result.status != "not modified":
                continue  # the feed could not be read: its one line is above
            print(f"feed {source}: {result.status}; added {len(report.added)}, updated {len(report.updated)}, "
                  f"{result.skipped_seen} already seen", file=out, flush=True)
        done += 1
        if rounds is not None and done >= rounds:
            break
        sleep(max(0.0, every - (time.monotonic() - started)))
    return done


def _watch_folder(store, folder: Path, encoder, settings, state, settle: float, out, err) -> None:
    """One round over a watched folder: one line when it had new or changed files, one per bad file."""
    from index.folder_watch import poll_folder

    try:
        files, report = poll_folder(store, folder, encoder, settings, state, settle)
    except Exception as error:  # noqa: BLE001 - one folder's failure is one line; the watch goes on
        print(f"folder {folder}: {type(error).__name__}: {error}", file=err)
        return
    for problem in report.skipped:
        print(f"skipped {problem}", file=err)
    if files:
        print(f"folder {folder}: {len(files)} new or changed files; added {len(report.added)}, updated "
              f"{len(report.updated)}, unchanged {len(report.unchanged)}", file=out, flush=True)


def split_inputs(inputs: list[str], conn=None) -> tuple[list[str], list[str]]:
    """(feeds, other inputs): files whose first bytes are RSS/Atom, and URLs that answer with a feed."""
    feeds, others = [], []
    for item in inputs:
        if re.match(r"^https?://", item, re.IGNORECASE):
            (feeds if _url_is_feed(item) else others).append(item)
        elif Path(item).is_file() and is_feed_file(Path(item)):
            feeds.append(item)
        else:
            others.append(item)
    return feeds, others


def _url_is_feed(url: str) -> bool:
    """Whether the URL serves a feed (a GET; an error leaves it to the page loader, which reports it)."""
    try:
        response = http_get(url)
    except InputError:
        return False
    return looks_like_feed(response.body, response.content_type)

