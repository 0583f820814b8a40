"""Fetch one web page for ingestion, with a size limit and a clear error for every failure."""

from __future__ import annotations

import urllib.error
import urllib.request

from index.load import MAX_FILE_BYTES, InputError, decode_bytes

USER_AGENT = "article-assistant/0.1 (+offline news reader)"


def fetch_html(url: str, timeout: float = 20.0) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get_content_type()
            if kind not in ("text/html", "application/xhtml+xml", "text/plain"):
                raise InputError(f"not a web page (content type {kind})")
            data = response.read(MAX_FILE_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise InputError(f"HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise InputError(f"cannot fetch: {getattr(err, 'reason', err)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"page is over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    if not data.strip():
        raise InputError("empty page")
    return decode_bytes(data)[0]
