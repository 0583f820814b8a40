"""Files, folders and URLs → Article records; each unreadable input becomes a one-line Problem."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

from index.articles import Article, LoadResult, Problem
from index.clean import clean_plain_text, normalize_whitespace, strip_furniture, strip_markdown
from index.html import extract_page

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
MAX_FILE_BYTES = 20_000_000  # one article file (or one JSON list) larger than this is not an article
MAX_BODY_CHARS = 1_000_000  # ~150k words: larger bodies are data dumps, not news
MAX_JSON_DEPTH = 32  # an article is an object of strings and lists; deeper nesting is not an article
_BODY_KEYS = ("body", "text", "content")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)


class InputError(Exception):
    """A whole input cannot be read; the message is the reason, without the file name."""


def load_inputs(inputs: Iterable[str]) -> Iterator[Article | Problem]:
    """Read every input in order, yielding articles and problems as they are found."""
    for item in inputs:
        if re.match(r"^https?://", item, re.IGNORECASE):
            yield from _guard(item, lambda u=item: [_fetch_url(u)])
            continue
        path = Path(item)
        if not path.exists():
            yield Problem(item, "no such file or folder")
        elif path.is_dir():
            files = (p for p in path.rglob("*") if p.is_file()
                     and not any(part.startswith(".") for part in p.relative_to(path).parts))  # .git, .DS_Store
            for file in sorted(files):
                yield from load_file(file, id_base=file.relative_to(path).with_suffix("").as_posix())
        else:
            yield from load_file(path)


def load_all(inputs: Iterable[str]) -> LoadResult:
    result = LoadResult()
    for item in load_inputs(inputs):
        (result.articles if isinstance(item, Article) else result.problems).append(item)
    return result


def load_file(path: Path, id_base: str | None = None) -> Iterator[Article | Problem]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        yield Problem(str(path), f"unsupported file type '{suffix or path.name}' (use {', '.join(sorted(SUPPORTED))})")
        return
    if suffix == ".jsonl":
        yield from _guard(str(path), lambda: [], stream=lambda: _read_jsonl(path))
        return
    yield from _guard(str(path), lambda: _read_single(path, suffix, id_base or path.stem))


def _guard(where: str, produce, stream=None) -> Iterator[Article | Problem]:
    """Turn an InputError or OS error for one input into a Problem; the rest carries on."""
    try:
        items = stream() if stream else produce()
        yield from items
    except InputError as err:
        yield Problem(where, str(err))
    except PermissionError:
        yield Problem(where, "permission denied (file is not readable)")
    except OSError as err:
        yield Problem(where, f"cannot read: {err.strerror or err}")


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[str, str | None]:
    """Decoded text and a note when it was not valid UTF-8 (decoded as Windows-1252 instead)."""
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file")
    if size > limit:
        raise InputError(f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit for one article")
    data = path.read_bytes()
    return decode_bytes(data)


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    if b"\x00" in data[:8192]:
        raise InputError("binary file, not text")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        text = data.decode("cp1252", errors="replace")
        return text, f"not valid UTF-8 (byte {err.start}); decoded as Windows-1252"


def _read_single(path: Path, suffix: str, article_id: str) -> list[Article | Problem]:
    text, note = read_text(path)
    notes: list[Article | Problem] = [Problem(str(path), note)] if note else []
    if not text.strip():
        raise InputError("empty file (only whitespace)")
    if suffix == ".json":
        return notes + list(_read_json(path, text))
    if suffix in (".html", ".htm"):
        return notes + [_article_from_html(text, article_id, str(path))]
    return notes + [_article_from_text(text, article_id, str(path), markdown=suffix != ".txt")]


def _article_from_text(text: str, article_id: str, where: str, markdown: bool) -> Article:
    meta: dict[str, str] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        meta = _parse_front_matter(front.group(1))
        text = text[front.end():]
    if markdown:
        text = strip_markdown(text, keep_first_heading="title" not in meta)
    clean = clean_plain_text(text, detect_title="title" not in meta)
    return _make_article(
        {**meta, "title": meta.get("title") or clean.title, "body": clean.body},
        default_id=meta.get("id", article_id),
        where=where,
        path=where,
        clean=False,
    )


def _parse_front_matter(block: str) -> dict[str, str]:
    """`key: value` lines; a YAML list (`[a, b]` or `- a` lines below the key) becomes "a; b"."""
    meta: dict[str, str] = {}
    key = None
    for line in block.splitlines():
        item = re.match(r"^\s+-\s+(.*)$|^-\s+(.*)$", line)
        if item and key is not None:
            value = _unquote(item.group(1) or item.group(2) or "")
            meta[key] = f"{meta[key]}; {value}" if meta[key] else value
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip():
            key, value = name.strip().lower(), value.strip()
            if value.startswith("[") and value.endswith("]"):
                value = "; ".join(_unquote(v) for v in value[1:-1].split(",") if v.strip())
            meta[key] = _unquote(value)
    return meta


def _unquote(value: str) -> str:
    return value.strip().strip('"').strip("'")


def _article_from_html(html: str, article_id: str, where: str, url: str | None = None) -> Article:
    page = extract_page(html, url=url)
    if not page.text.strip():
        raise InputError("no readable text in the HTML (only scripts, styles or markup)")
    fields = {
        "title": page.title,
        "body": page.text,
        "source": page.source,
        "authors": list(page.authors),
        "published_at": page.published_at,
        "url": page.url or url,
    }
    return _make_article(fields, default_id=article_id, where=where, path=None if url else where)


def _read_json(path: Path, text: str) -> Iterator[Article | Problem]:
    try:
        data = _loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    records = data if isinstance(data, list) else [data]
    for i, record in enumerate(records, 1):
        where = f"{path} (item {i})" if isinstance(data, list) else str(path)
        default_id = f"{path.stem}-{i}" if isinstance(data, list) else path.stem
        yield from _guard(where, lambda r=record, w=where, d=default_id: [_record_article(r, d, w, str(path))])


def _read_jsonl(path: Path) -> Iterator[Article | Problem]:
    if path.stat().st_size == 0:
        raise InputError("empty file")
    with path.open("rb") as handle:
        head = handle.read(8192)
        if b"\x00" in head:
            raise InputError("binary file, not text")
        handle.seek(0)
        for lineno, raw in enumerate(handle, 1):
            where = f"{path}:{lineno}"
            if not raw.strip():
                continue
            yield from _guard(where, lambda r=raw, w=where, n=lineno: _jsonl_line(r, w, n, path))


def _jsonl_line(raw: bytes, where: str, lineno: int, path: Path) -> list[Article | Problem]:
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"line is {len(raw) / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    text, note = decode_bytes(raw)
    try:
        record = _loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"malformed JSON ({err.msg} at column {err.colno})") from None
    out: list[Article | Problem] = [Problem(where, note)] if note else []
    return out + [_record_article(record, f"{path.stem}-{lineno}", where, str(path))]


def _loads(text: str) -> object:
    """json.loads, refusing nesting deeper than MAX_JSON_DEPTH (counted before parsing, so a 200 KB
    '[[[[...' is one InputError, not a RecursionError that would abort the whole ingest)."""
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise InputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels; an article is an object of "
                         "strings and lists")
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError("JSON nested too deeply to read") from None


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (an over-estimate for malformed text, which fails anyway)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def _record_article(record: object, default_id: str, where: str, path: str) -> Article:
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object with a body, got {type(record).__name__}")
    return _make_article(record, default_id=default_id, where=where, path=path)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(value: object) -> object:
    """Lone surrogates (JSON may escape them: "\\ud800") become U+FFFD: they cannot be encoded, hashed or stored."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


def _make_article(
    fields: dict, default_id: str, where: str, path: str | None, clean: bool = True
) -> Article:
    fields = {key: _valid_text(value) for key, value in fields.items()}
    body = next((fields[k] for k in _BODY_KEYS if isinstance(fields.get(k), str) and fields[k].strip()), None)
    if body is None:
        raise InputError("article has no body text (expected a non-empty 'body', 'text' or 'content')")
    if len(body) > MAX_BODY_CHARS:
        raise InputError(f"body is {len(body):,} characters, over the {MAX_BODY_CHARS:,} limit for one article")
    if clean:
        body = strip_furniture(normalize_whitespace(body))
    if not body.strip():
        raise InputError("article body is empty after cleaning")
    title = str(fields.get("title") or "").strip()
    if not title:
        title = _fallback_title(body)
    article_id = str(fields.get("id") or fields.get("_id") or default_id)
    return Article(
        id=article_id,
        title=title,
        body=body,
        source=str(fields.get("source") or fields.get("sitename") or "").strip(),
        authors=_authors(fields.get("authors") or fields.get("author")),
        published_at=normalize_date(fields.get("published_at") or fields.get("date") or fields.get("published")),
        url=_safe_url(fields.get("url")),
        path=path,
    )


def _fallback_title(body: str) -> str:
    first = body.split("\n", 1)[0]
    return first if len(first) <= 100 else first[:97].rsplit(" ", 1)[0] + "..."


def _authors(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(a.strip() for a in re.split(r";|\band\b|,", value) if a.strip())
    if isinstance(value, list):
        return tuple(str(a).strip() for a in value if str(a).strip())
    return ()


def _safe_url(value: object) -> str | None:
    return str(value).strip() if isinstance(value, str) and value.strip() else None


def normalize_date(value: object) -> str | None:
    """ISO date (YYYY-MM-DD) from common date forms, or None when it cannot be read."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    import dateparser

    # A bare year is not a date: without REQUIRE_PARTS dateparser fills in today's month and day.
    parsed = dateparser.parse(text, languages=["en"],
                              settings={"PREFER_DAY_OF_MONTH": "first", "REQUIRE_PARTS": ["month", "year"]})
    return parsed.date().isoformat() if parsed else None


def _fetch_url(url: str) -> Article:
    from index.fetch import fetch_html

    html = fetch_html(url)
    return _article_from_html(html, article_id=url, where=url, url=url)
