"""Articles → stored index: classify each article (new, changed, unchanged, duplicate), split and
chunk the new ones, embed what the cache lacks, and commit everything in one transaction."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.articles import Article, Problem, text_hash
from index.chunk import ChunkSettings, embedding_text, make_chunks
from index.embed import Encoder, encode_chunks
from index.load import load_inputs
from index.manifest import Manifest
from index.sentences import split_sentences
from index.store import DerivedFilesNotWritten, PreparedArticle, Store

EMBED_BATCH = 64  # chunks per encoder call; the encoder sorts by length inside


@dataclass
class IngestReport:
    """What one ingest did; printed as the closing summary."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)  # inputs or articles not stored, with reasons
    notes: list[Problem] = field(default_factory=list)  # stored, but worth saying (e.g. decoding)
    chunks_embedded: int = 0
    chunks_from_cache: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    generation: int = 0

    def summary(self) -> str:
        lines = [
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"skipped {len(self.skipped)} ({self.chunks_embedded} chunks embedded, "
            f"{self.chunks_from_cache} from cache, {self.seconds:.1f} s)"
        ]
        lines += [f"  skipped {p}" for p in self.skipped]
        lines += [f"  note: {p}" for p in self.notes]
        return "\n".join(lines)


def existing_settings(index_dir: Path | str) -> ChunkSettings | None:
    from index.backends import manifest_at

    manifest = manifest_at(index_dir)
    return ChunkSettings(**manifest.chunking) if manifest else None


def manifest_for(encoder: Encoder, settings: ChunkSettings) -> Manifest:
    return Manifest(model=encoder.name, dim=encoder.dim, chunking=settings.to_dict())


def open_for_writing(index_dir: Path | str, encoder: Encoder, settings: ChunkSettings | None = None) -> Store:
    from index.backends import open_store

    return open_store(index_dir, manifest_for(encoder, settings or ChunkSettings()), create=True)


def build_index(inputs: Iterable[str], index_dir: Path | str, encoder: Encoder,
                settings: ChunkSettings | None = None, progress: bool = False, wait: bool = True) -> IngestReport:
    """Ingest files, folders and URLs into the index at index_dir (created if missing). Without
    `settings`, an existing index keeps its own chunking. Another ingest into the same index: wait for
    it (saying so on stderr), or with wait=False raise IndexBusy."""
    settings = settings or existing_settings(index_dir) or ChunkSettings()
    store = open_for_writing(index_dir, encoder, settings)
    try:
        return ingest_into(store, load_inputs(inputs), encoder, settings, progress=progress, wait=wait)
    finally:
        store.close()


def ingest_into(store: Store, items: Iterable[Article | Problem], encoder: Encoder,
                settings: ChunkSettings, progress: bool = False, wait: bool = True) -> IngestReport:
    """Reading, cleaning, splitting and chunking run in a second thread while this one embeds, so the
    model never waits for the parser; everything is committed at the end in one transaction. The index's
    writer lock is held throughout: what is compared against the stored articles (unchanged, duplicate)
    is still true at the commit."""
    with store.writer(wait=wait):
        return _ingest_locked(store, items, encoder, settings, progress)


def _ingest_locked(store: Store, items: Iterable[Article | Problem], encoder: Encoder,
                   settings: ChunkSettings, progress) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    bar = _progress_bar(progress)
    batches: queue.Queue = queue.Queue(maxsize=2)

    def produce() -> None:
        try:
            for batch in _new_articles(items, store, report):
                batches.put(_split_batch(batch, encoder, settings))
        except BaseException as err:  # noqa: BLE001 - handed to the consuming thread, which raises it
            batches.put(err)
            return
        batches.put(None)

    threading.Thread(target=produce, name="ingest-reader", daemon=True).start()
    prepared: list[PreparedArticle] = []
    while (item := batches.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        batch, texts = item
        _embed_missing(texts, store, encoder, report)
        prepared += batch
        _advance(bar, len(batch), report)
    if bar is not None:
        bar.close()
    if prepared:
        try:
            report.generation = store.commit(prepared, removals=[])
        except DerivedFilesNotWritten as err:  # stored: the caller still learns what was added
            report.generation, report.seconds = err.generation, time.perf_counter() - started
            err.report = report
            raise
    report.seconds = time.perf_counter() - started
    return report


def _new_articles(items: Iterable[Article | Problem], store: Store, report: IngestReport,
                  batch_size: int = 32) -> Iterator[list[Article]]:
    """Batches of articles that are new or changed; the rest is recorded in the report. A store with
    `hashes_for` (the embedded one) is asked about each batch's articles only; another gives all its
    hashes once (stored_hashes)."""
    lookup = getattr(store, "hashes_for", None)
    if lookup is None:
        stored = store.stored_hashes()
        content_owner = {content: aid for aid, (_, content) in stored.items()}
    else:
        stored, content_owner = {}, {}
    read_from: dict[str, str] = {}  # article id -> the input it came from in this run
    pending: list[Article] = []
    for item in _looked_up(items, lookup, stored, content_owner, batch_size):
        if isinstance(item, Problem):
            (report.notes if _is_note(item) else report.skipped).append(item)
            continue
        if item.id in read_from:  # two inputs, one id (a.txt and a.md): keep the first, not whichever came last
            report.skipped.append(Problem(item.path or item.id,
                                          f"article id '{item.id}' was already read from {read_from[item.id]}"))
            continue
        read_from[item.id] = item.path or item.id
        verdict = _classify(item, stored, content_owner)
        if verdict == "unchanged":
            report.unchanged.append(item.id)
            continue
        if verdict.startswith("duplicate of "):
            report.skipped.append(Problem(item.path or item.id, f"'{item.id}' is a {verdict} (same text)"))
            continue
        (report.updated if verdict == "update" else report.added).append(item.id)
        content_owner[item.content_hash] = item.id
        pending.append(item)
        if len(pending) >= batch_size:
            yield pending
            pending = []
    if pending:
        yield pending


def remove_articles(store: Store, article_ids: list[str], wait: bool = True) -> tuple[list[str], list[str]]:
    """(removed, unknown) article ids; the removal is one transaction, under the index's writer lock."""
    with store.writer(wait=wait):
        stored = store.stored_hashes()
        removed = [a for a in article_ids if a in stored]
        unknown = [a for a in article_ids if a not in stored]
        if removed:
            store.commit([], removals=removed)
    return removed, unknown


def select_articles(store: Store, before: str | None = None, source: str | None = None) -> list[str]:
    """Ids of stored articles published before `before` (dated ones only) and/or from `source` (any case).
    The embedded store answers from its database; another store from a snapshot's article list."""
    if not hasattr(store, "conn"):
        snapshot = store.snapshot()
        try:
            return sorted(a.id for a in snapshot.articles()
                          if (before is None or (a.published_at and a.published_at < before))
                          and (source is None or a.source.lower() == source.lower()))
        finally:
            snapshot.close()
    sql, args = "SELECT id FROM articles WHERE 1", []
    if before is not None:
        sql += " AND published_at IS NOT NULL AND published_at < ?"
        args.append(before)
    if source is not None:
        sql += " AND lower(source) = lower(?)"
        args.append(source)
    return [r[0] for r in store.conn.execute(sql + " ORDER BY id", args)]


def _looked_up(items: Iterable[Article | Problem], lookup, stored: dict, content_owner: dict,
               size: int) -> Iterator[Article | Problem]:
    """The items again, each group of `size` after `lookup` has added its stored hashes to `stored` and
    `content_owner` (what this run has claimed already stays claimed)."""
    if lookup is None:
        yield from items
        return
    group: list[Article | Problem] = []

    def flush() -> list[Article | Problem]:
        articles = [a for a in group if isinstance(a, Article)]
        found, owners = lookup([a.id for a in articles], [a.content_hash for a in articles])
        stored.update(found)
        for content, owner in owners.items():
            content_owner.setdefault(content, owner)
        return group

    for item in items:
        group.append(item)
        if len(group) >= size:
            yield from flush()
            group = []
    if group:
        yield from flush()


def _is_note(problem: Problem) -> bool:
    return problem.reason.startswith("not valid UTF-8")


def _classify(article: Article, stored: dict[str, tuple[str, str]], content_owner: dict[str, str]) -> str:
    if article.id in stored:
        record, _ = stored[article.id]
        return "unchanged" if record == article.record_hash else "update"
    owner = content_owner.get(article.content_hash)
    if owner is not None and owner != article.id:
        return f"duplicate of '{owner}'"
    return "new"


def _split_batch(articles: list[Article], encoder: Encoder, settings: ChunkSettings
                 ) -> tuple[list[PreparedArticle], list[tuple]]:
    """Sentences, token counts, chunks and the texts to embed (hash, text, tokens, sentence spans)."""
    split = [split_sentences(a.body) for a in articles]
    counts = encoder.count_tokens([s.text for sentences in split for s in sentences])
    prepared, texts = [], []
    cursor = 0
    for article, sentences in zip(articles, split, strict=True):
        article_counts = counts[cursor:cursor + len(sentences)]
        cursor += len(sentences)
        chunks = make_chunks(article.body, sentences, article_counts, settings)
        chunk_texts = [embedding_text(article.title, c.text, settings) for c in chunks]
        hashes = [text_hash(t) for t in chunk_texts]
        prepared.append(PreparedArticle(article, sentences, chunks, hashes))
        for chunk, text, key in zip(chunks, chunk_texts, hashes, strict=True):
            texts.append((key, text, chunk.n_tokens, _sentence_spans(chunk, sentences, len(text) - len(chunk.text))))
    return prepared, texts


def _advance(bar, n_articles: int, report: IngestReport) -> None:
    if bar is None:
        return
    bar.update(n_articles)
    chunks = report.chunks_embedded + report.chunks_from_cache
    elapsed = max(getattr(bar, "format_dict", {}).get("elapsed", 0.0), 1e-6)
    bar.set_postfix_str(f"{chunks} chunks, {chunks / elapsed:.1f} chunks/s", refresh=False)


def _sentence_spans(chunk, sentences, prefix: int) -> list[tuple[int, int]]:
    """Each sentence's span inside the embedded text (which may start with the title)."""
    return [(prefix + s.start - chunk.start, prefix + s.end - chunk.start)
            for s in sentences[chunk.first_sentence:chunk.last_sentence + 1]]


def _embed_missing(texts: list[tuple], store: Store, encoder: Encoder, report: IngestReport) -> None:
    unique = {item[0]: item for item in texts}
    cached = store.cached_vectors(list(unique))
    missing = [item for key, item in unique.items() if key not in cached]
    report.chunks_from_cache += len(texts) - len(missing)
    missing.sort(key=lambda item: len(item[1]))  # similar lengths per batch: less padding
    for i in range(0, len(missing), EMBED_BATCH):
        batch = missing[i:i + EMBED_BATCH]
        vectors, sentence_vectors = encode_chunks(encoder, [t for _, t, _, _ in batch], [s for *_, s in batch])
        store.cache_vectors({item[0]: (v, sv) for item, v, sv in zip(batch, vectors, sentence_vectors, strict=True)})
        report.chunks_embedded += len(batch)
        report.tokens_embedded += sum(n for _, _, n, _ in batch)


class _CallbackBar:
    """tqdm's update/set_postfix_str/close, reporting to a function (a UI progress bar)."""

    def __init__(self, callback):
        self.callback, self.n = callback, 0

    def update(self, n: int) -> None:
        self.n += n
        self.callback(self.n)

    def set_postfix_str(self, *_, **__) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(enabled):
    if callable(enabled):
        return _CallbackBar(enabled)
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit=" articles", file=sys.stderr, dynamic_ncols=True, desc="ingest")
