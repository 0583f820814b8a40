"""SQLite holds the truth: articles, sentences and chunks with offsets, and the embedding cache.

FAISS and keyword (tantivy) files are derived from it: each records the last entry of the `changes` log
it reflects, so a crash between the database commit and the file updates is repaired on open by replaying
the log (or, for a damaged file, by rebuilding it).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from index.articles import Article, Chunk, Sentence

DB_NAME = "index.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    authors TEXT NOT NULL DEFAULT '[]',
    published_at TEXT,
    url TEXT,
    path TEXT,
    content_hash TEXT NOT NULL,
    record_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_content ON articles(content_hash);
-- Covers "id, record_hash, content_hash" (what an ingest compares against): read from this index, those
-- columns cost a small scan instead of a walk through every stored body (the hashes follow the body in a row).
CREATE INDEX IF NOT EXISTS articles_hashes ON articles(id, record_hash, content_hash);
-- Covers what a snapshot loads for every article (all but body and record_hash), for the same reason:
-- at 100k articles the scan took 0.6 s warm through the table and 0.19 s through this index (issue 16).
CREATE INDEX IF NOT EXISTS articles_heads ON articles(id, title, source, published_at, url, authors, path,
                                                      content_hash);
CREATE TABLE IF NOT EXISTS sentences (
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    PRIMARY KEY (article_rowid, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    vector_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_rowid);
-- Embedding cache keyed by the embedded text's hash: the chunk vector (float32) and its
-- sentences' pooled vectors (float16, one row per sentence of the chunk).
-- MinHash signature of each article body, for grouping near-duplicate stories (added in place:
-- an index made before it gets the table, and signatures are filled in on first open).
CREATE TABLE IF NOT EXISTS signatures (
    article_rowid INTEGER PRIMARY KEY REFERENCES articles(rowid) ON DELETE CASCADE,
    minhash BLOB NOT NULL
);
-- Every chunk added or removed, in order (written by triggers inside the commit's transaction): the
-- derived indexes record the last change they reflect and replay the rest, so a commit touches only
-- what changed and a crash after the commit is caught up on open. Pruned once every index has it.
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL, added INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS chunk_added AFTER INSERT ON chunks
    BEGIN INSERT INTO changes (chunk_id, added) VALUES (new.id, 1); END;
CREATE TRIGGER IF NOT EXISTS chunk_removed AFTER DELETE ON chunks
    BEGIN INSERT INTO changes (chunk_id, added) VALUES (old.id, 0); END;
CREATE INDEX IF NOT EXISTS articles_url ON articles(url);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
-- Feeds polled by `assistant watch` / ingested by `assistant ingest FEED`: HTTP validators and when last
-- polled, and the items already seen (by link or guid), so a poll skips them without fetching.
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, title TEXT, etag TEXT, last_modified TEXT, last_poll TEXT, last_status TEXT,
    items_seen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_items (
    feed_url TEXT NOT NULL, item_key TEXT NOT NULL, version TEXT NOT NULL, article_id TEXT,
    PRIMARY KEY (feed_url, item_key)
) WITHOUT ROWID;
-- The distinct sentence keys of each article (index/sentence_spread.py): how many articles hold a sentence
-- is one indexed count, kept right by the cascade on removal and replacement (added in place: an index
-- made before it gets the table, filled in on first open, and `spread_ready` in meta says it is complete).
CREATE TABLE IF NOT EXISTS sentence_keys (
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    key INTEGER NOT NULL,
    PRIMARY KEY (article_rowid, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentence_keys_key ON sentence_keys(key);
CREATE TABLE IF NOT EXISTS vectors (
    hash TEXT PRIMARY KEY, vector BLOB NOT NULL, sentence_vectors BLOB NOT NULL
) WITHOUT ROWID;
"""


def connect(path: Path, readonly: bool = False, create: bool = True) -> sqlite3.Connection:
    """With create=False a missing database is an error (never silently a new, empty index)."""
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}" if create else f"file:{path}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(SCHEMA)
    return conn


def get_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def last_change(conn: sqlite3.Connection) -> int:
    """The newest change number ever logged (kept by AUTOINCREMENT even after pruning)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0


def pruned_to(conn: sqlite3.Connection) -> int:
    """Changes up to this number have been deleted from the log: a derived file older than it cannot replay."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'changes_pruned_to'").fetchone()
    return int(row[0]) if row else 0


def prune_changes(conn: sqlite3.Connection, upto: int) -> None:
    if upto <= pruned_to(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM changes WHERE seq <= ?", (upto,))
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('changes_pruned_to', ?)", (str(upto),))
    conn.execute("COMMIT")


def article_from_row(row: sqlite3.Row | tuple) -> Article:
    _, aid, title, body, source, authors, published_at, url, path = row[:9]
    return Article(aid, title, body, source, tuple(json.loads(authors)), published_at, url, path)


ARTICLE_COLUMNS = "rowid, id, title, body, source, authors, published_at, url, path"


def insert_article(conn: sqlite3.Connection, article: Article, sentences: list[Sentence],
                   chunks: list[Chunk], vector_hashes: list[str]) -> None:
    """Replace any stored article with this id by this one, with its sentences and chunks."""
    conn.execute("DELETE FROM articles WHERE id = ?", (article.id,))
    cur = conn.execute(
        "INSERT INTO articles (id, title, body, source, authors, published_at, url, path, content_hash, record_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (article.id, article.title, article.body, article.source, json.dumps(list(article.authors)),
         article.published_at, article.url, article.path, article.content_hash, article.record_hash),
    )
    rowid = cur.lastrowid
    conn.execute("INSERT INTO signatures (article_rowid, minhash) VALUES (?, ?)", (rowid, body_signature(article.body)))
    conn.executemany(
        "INSERT INTO sentences (article_rowid, idx, start, end) VALUES (?, ?, ?, ?)",
        [(rowid, i, s.start, s.end) for i, s in enumerate(sentences)],
    )
    insert_sentence_keys(conn, rowid, [s.text for s in sentences])
    conn.executemany(
        "INSERT INTO chunks (article_rowid, position, start, end, first_sentence, last_sentence, n_tokens, vector_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(rowid, c.position, c.start, c.end, c.first_sentence, c.last_sentence, c.n_tokens, h)
         for c, h in zip(chunks, vector_hashes, strict=True)],
    )


def cached_vectors(conn: sqlite3.Connection, hashes: list[str], dim: int) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for i in range(0, len(hashes), 500):
        batch = hashes[i:i + 500]
        marks = ",".join("?" * len(batch))
        for key, blob in conn.execute(f"SELECT hash, vector FROM vectors WHERE hash IN ({marks})", batch):
            found[key] = np.frombuffer(blob, dtype=np.float32, count=dim)
    return found


def store_vectors(conn: sqlite3.Connection, items: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO vectors (hash, vector, sentence_vectors) VALUES (?, ?, ?)",
        [(key, np.asarray(vec, dtype=np.float32).tobytes(), np.asarray(sent, dtype=np.float16).tobytes())
         for key, (vec, sent) in items.items()],
    )


def sentence_vectors(conn: sqlite3.Connection, chunk_id: int, dim: int) -> np.ndarray:
    row = conn.execute(
        "SELECT v.sentence_vectors FROM chunks c JOIN vectors v ON v.hash = c.vector_hash WHERE c.id = ?",
        (chunk_id,),
    ).fetchone()
    return np.frombuffer(row[0], dtype=np.float16).reshape(-1, dim).astype(np.float32)


def body_signature(body: str) -> bytes:
    from index.near_duplicates import signature, to_bytes

    return to_bytes(signature(body))


def fill_missing_signatures(conn: sqlite3.Connection) -> None:
    """Signatures for articles stored before near-duplicate detection existed."""
    rows = conn.execute("SELECT rowid, body FROM articles WHERE rowid NOT IN (SELECT article_rowid FROM signatures)"
                        ).fetchall()
    if rows:
        values = [(rowid, body_signature(body)) for rowid, body in rows]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO signatures VALUES (?, ?)", values)
        conn.execute("COMMIT")


def insert_sentence_keys(conn: sqlite3.Connection, rowid: int, texts: list[str]) -> None:
    from index.sentence_spread import article_keys

    conn.executemany("INSERT INTO sentence_keys (article_rowid, key) VALUES (?, ?)",
                     [(rowid, key) for key in article_keys(texts)])


def fill_missing_sentence_keys(conn: sqlite3.Connection) -> None:
    """Sentence keys for an index made before they existed: every article's, once, in one transaction
    (about 2 s for RealTime QA's 2,929 articles); then `spread_ready` spares later opens the check."""
    if conn.execute("SELECT 1 FROM meta WHERE key = 'spread_ready'").fetchone():
        return
    conn.execute("BEGIN IMMEDIATE")
    have = {r[0] for r in conn.execute("SELECT DISTINCT article_rowid FROM sentence_keys")}
    for rowid, body in conn.cursor().execute("SELECT rowid, body FROM articles"):  # one body at a time
        if rowid not in have:
            spans = conn.execute("SELECT start, end FROM sentences WHERE article_rowid = ? ORDER BY idx",
                                 (rowid,)).fetchall()
            insert_sentence_keys(conn, rowid, [body[s:e] for s, e in spans])
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('spread_ready', '1')")
    conn.execute("COMMIT")


def sentence_spread(conn: sqlite3.Connection, keys: list[int]) -> dict[int, int]:
    """key -> number of articles holding it, for those of these keys any article holds."""
    found: dict[int, int] = {}
    unique = list(dict.fromkeys(keys))
    for i in range(0, len(unique), 500):
        batch = unique[i:i + 500]
        found.update(conn.execute(f"SELECT key, COUNT(*) FROM sentence_keys WHERE key IN ({','.join('?' * len(batch))})"
                                  " GROUP BY key", batch).fetchall())
    return found
