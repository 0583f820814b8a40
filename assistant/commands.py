"""Index commands: ingest, articles, remove, info. Thin: parse results are printed, work is in `index`."""

from __future__ import annotations

import sys
from pathlib import Path

COMMAND_GROUP = "article_assistant.commands"  # entry points: front ends (serve, eval) add their commands


def register_extra_commands(command) -> None:
    """`ask` is the engine's own; `serve` and `eval` live in ui/ and eval/, which import the engine, so
    they register through entry points (pyproject.toml) and the engine never imports them."""
    from importlib.metadata import entry_points

    from assistant import ask_command

    ask_command.register(command)
    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        entry.load()(command)


def resolve_index(args) -> Path:
    """The --index folder, or the demo index (built from the bundled corpus when missing or stale)."""
    if args.index is not None:
        return args.index
    from assistant.engine import ensure_demo_index

    return ensure_demo_index(encoder_for(args))


_ENCODERS: dict = {}


def encoder_for(args):
    """The model named by --model/--backend; without them, the one the --index was built with."""
    model, backend = getattr(args, "model", None), getattr(args, "backend", None)
    index_dir = getattr(args, "index", None)
    key = (model, backend, str(index_dir) if model is None and backend is None else None)
    if key not in _ENCODERS:
        from index.embed import encoder_for_index, load_encoder

        device = getattr(args, "device", None) or "cpu"
        encoder = encoder_for_index(index_dir, device) if key[2] and index_dir else None
        _ENCODERS[key] = encoder or load_encoder(model, device=device, backend=backend)
    return _ENCODERS[key]


def ingest(args) -> int:
    from index.feeds import split_inputs
    from index.ingest import build_index

    if args.index is None:
        from index.demo import demo_index_dir

        args.index = demo_index_dir(encoder_for(args).name)
    from index.store import DerivedFilesNotWritten

    feeds, others = split_inputs(args.inputs)
    ok = True
    for source in feeds:
        ok &= _ingest_feed(args, source)
    if others or not feeds:
        try:
            report = build_index(others, args.index, encoder_for(args), settings=_chunk_settings(args),
                                 progress=not args.no_progress, wait=not args.no_wait)
        except DerivedFilesNotWritten as err:  # the articles are stored; say what was, then what failed
            if err.report is not None:
                print(err.report.summary())
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(report.summary())
        ok &= bool(report.added or report.updated or report.unchanged or not report.skipped)
    return 0 if ok else 1


def _ingest_feed(args, source: str, pacer=None) -> bool:
    from index.feeds import ingest_feed
    from index.ingest import open_for_writing

    settings = _chunk_settings(args)
    store = open_for_writing(args.index, encoder_for(args), settings)
    try:
        result, report = ingest_feed(store, source, encoder_for(args), settings, pacer,
                                     progress=not getattr(args, "no_progress", True))
    finally:
        store.close()
    print(f"feed {source} ({result.title or '?'}): {result.status}; {result.skipped_seen} already seen")
    print(report.summary())
    return result.title is not None


def watch(args) -> int:
    from index.feeds import HostPacer, parse_every
    from index.feeds import watch as run_watch
    from index.ingest import open_for_writing

    if args.index is None:
        from index.demo import demo_index_dir

        args.index = demo_index_dir(encoder_for(args).name)
    from index.chunk import ChunkSettings
    from index.ingest import existing_settings

    every = parse_every(args.every)
    settings = existing_settings(args.index) or ChunkSettings()
    store = open_for_writing(args.index, encoder_for(args), settings)
    try:
        run_watch(store, args.feeds_file, encoder_for(args), settings, every,
                  rounds=1 if args.once else args.rounds, pacer=HostPacer(args.host_delay))
    finally:
        store.close()
    return 0


def _chunk_settings(args):
    """Chunking for this ingest: the existing index's own, adjusted by any option given."""
    from dataclasses import replace

    from index.chunk import ChunkSettings
    from index.ingest import existing_settings

    settings = existing_settings(args.index) or ChunkSettings()
    if args.chunk_tokens is not None:
        settings = replace(settings, max_tokens=args.chunk_tokens)
    if args.title_in_embedding is not None:
        settings = replace(settings, title_in_embedding=args.title_in_embedding == "yes")
    return settings


def articles(args) -> int:
    from index.backends import open_store

    snapshot = open_store(resolve_index(args)).snapshot()
    rows = snapshot.articles()
    for a in rows:
        print(f"{a.id}\t{a.published_at or '-'}\t{a.source or '-'}\t{a.n_chunks} chunks\t{a.title}")
    print(f"{len(rows)} articles", file=sys.stderr)
    return 0


def remove(args) -> int:
    from index.backends import open_store
    from index.ingest import remove_articles

    if not args.article_ids and args.before is None and args.source is None:
        print("error: name ARTICLE_IDs, --before DATE or --source S", file=sys.stderr)
        return 2
    if args.before is not None:
        from datetime import date

        try:
            date.fromisoformat(args.before)
        except ValueError:
            print(f"error: --before {args.before}: not a date (use YYYY-MM-DD)", file=sys.stderr)
            return 2
    location = resolve_index(args)
    store = open_store(location)
    with store.writer(wait=not args.no_wait):  # the selection is still true when the removal commits
        if args.before is not None or args.source is not None:
            from index.ingest import select_articles

            selected = select_articles(store, before=args.before, source=args.source)
            args.article_ids = list(dict.fromkeys([*args.article_ids, *selected]))
            if not selected:
                print("no stored article matches --before/--source", file=sys.stderr)
        removed, unknown = remove_articles(store, args.article_ids) if args.article_ids else ([], [])
    for article_id in removed:
        print(f"removed {article_id}")
    for article_id in unknown:
        print(f"error: no article '{article_id}' in {location}", file=sys.stderr)
    return 1 if unknown else 0


def info(args) -> int:
    from index.backends import open_store

    location = resolve_index(args)
    store = open_store(location)
    stats = store.stats()
    m = store.manifest
    print(f"index:      {location}")
    print(f"store:      {store.describe()}, format {m.format_version}")
    print(f"model:      {m.model} ({m.dim}-d)")
    print(f"chunking:   {m.chunking}")
    print(f"articles:   {stats.articles}")
    print(f"chunks:     {stats.chunks}")
    print(f"sentences:  {stats.sentences}")
    print(f"generation: {stats.generation}")
    print(f"disk:       {stats.disk_bytes / 1e6:.1f} MB")
    return 0


def check(args) -> int:
    from index.check import check_index, healthy

    folder = resolve_index(args)
    findings = check_index(folder, repair=args.repair)
    for finding in findings:
        print(finding)
    good = healthy(findings)
    print(f"{folder}: {'healthy' if good else 'problems remain'}" + ("" if good or args.repair else
          f" (try 'assistant check --repair --index {folder}')"), file=sys.stderr)
    return 0 if good else 1


def export(args) -> int:
    from index.backup import export_index

    folder = resolve_index(args)
    names = export_index(folder, args.out)
    print(f"exported {folder} to {args.out} ({len(names)} files, with SHA256SUMS)")
    return 0


def import_(args) -> int:
    from assistant.errors import UserError
    from index.backup import import_index

    if args.index is None:
        raise UserError("import needs --index DIR: the new (or empty) folder to restore into")
    names = import_index(args.archive, args.index)
    print(f"imported {args.archive} into {args.index} ({len(names)} files, checksums verified)")
    return 0
