"""A sitemap (sitemaps.org <urlset>) as a feed: each <url><loc> is an item without text, so its page is
fetched and its main text extracted like a feed item's; <lastmod> is its date and its version.

A sitemap goes wherever a feed goes (`assistant ingest SITEMAP`, a line of the `assistant watch` file) and
polls the same way (conditional GET, the per-host delay, items seen skipped before any page is fetched):
a page whose <lastmod> changed is fetched again and replaces the stored article; one without <lastmod>
is fetched once. A sitemap index (<sitemapindex>) is refused with one line: list its sitemaps instead.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from index.load import InputError, normalize_date

_SITEMAP_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*|<\?[^>]*>\s*)*<(urlset|sitemapindex)\b",
                            re.DOTALL)
MAX_URLS = 50_000  # the sitemaps.org limit for one file


def looks_like_sitemap(data: bytes) -> bool:
    return bool(_SITEMAP_START.match(data[:4096].lstrip(b"\xef\xbb\xbf")))


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_sitemap(data: bytes, where: str):
    """A <urlset> document → a feeds.Feed of its pages (title: the sitemap's host, else its file name)."""
    from lxml import etree

    from index.feeds import Feed, Item

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise InputError(f"malformed sitemap ({str(err).splitlines()[0]})") from None
    if _local(root.tag) == "sitemapindex":
        count = sum(1 for e in root if _local(e.tag) == "sitemap")
        raise InputError(f"a sitemap index ({count} sitemaps), not a sitemap: list its sitemaps instead")
    title = urllib.parse.urlsplit(where).netloc or Path(where).stem
    feed = Feed(title, [])
    for number, element in enumerate((e for e in root if _local(e.tag) == "url"), 1):
        if number > MAX_URLS:
            feed.problems.append(f"more than {MAX_URLS:,} urls: the rest are left out")
            break
        fields = {_local(child.tag): (child.text or "").strip() for child in element}
        loc, lastmod = fields.get("loc", ""), fields.get("lastmod", "")
        if not loc:
            feed.problems.append(f"item 'url {number}': no <loc>")
            continue
        if not re.match(r"^https?://", loc, re.IGNORECASE):
            feed.problems.append(f"item '{loc[:80]}': not an http(s) address")
            continue
        article = {"id": loc, "title": "", "url": loc, "source": title, "authors": [], "body": "",
                   "published_at": normalize_date(lastmod) if lastmod else None}
        feed.items.append(Item(loc, f"lastmod {lastmod}", loc, loc, article, ""))
    return feed
