"""`assistant` command line: parse, call the API, print. Subcommands import their code lazily."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print("interrupted; the index is as it was before this command", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - one clear line instead of a traceback
        from assistant.errors import user_message

        message = user_message(err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return getattr(err, "exit_code", 2)  # 2: what was asked is wrong; 1: the index could not do it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Ask questions about your news articles.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help_text: str, handler: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--index", type=index_location, default=None,
                       help="index folder or milvus://HOST:PORT/NAME (default: the demo corpus's index, "
                            "built on first use)")
        p.add_argument("--model", default=None,
                       help="embedding model name or folder (default: the bundled all-MiniLM-L6-v2, or the "
                            "model an existing --index was built with)")
        p.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default=None,
                       help="how the model runs: torch (exact fp32), onnx (fp32) or onnx-int8 (fastest); "
                            "default: the index's own, else onnx-int8 for the bundled model on the CPU "
                            "and torch otherwise")
        p.add_argument("--device", default=None, help="torch device for the model, e.g. cuda (default cpu)")
        p.set_defaults(handler=_lazy(handler))
        return p

    p = command("ingest", "Add files, folders, URLs or RSS/Atom feeds to the index (incremental).",
                "assistant.commands:ingest")
    p.add_argument("inputs", nargs="+",
                   help=".txt .md .html .json .jsonl files, folders, http(s) URLs, RSS/Atom feeds (URL or file)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-wait", action="store_true",
                   help="if another ingest or removal is running on this index, exit 1 instead of waiting")
    p.add_argument("--chunk-tokens", type=int, default=None,
                   help="chunk size in model tokens for a new index (default 200; an existing index keeps its own)")
    p.add_argument("--title-in-embedding", default=None, choices=("yes", "no"),
                   help="embed 'title + chunk' (yes, default) or the chunk alone, for a new index")

    command("articles", "List the articles in the index.", "assistant.commands:articles")

    p = command("remove", "Remove articles (and their vectors) from the index, in one transaction.",
                "assistant.commands:remove")
    p.add_argument("article_ids", nargs="*", metavar="ARTICLE_ID")
    p.add_argument("--before", metavar="DATE", default=None,
                   help="remove every article published before DATE (YYYY-MM-DD; undated articles stay)")
    p.add_argument("--source", metavar="S", default=None,
                   help="remove every article from source S (with --before: those of S published before DATE)")
    p.add_argument("--no-wait", action="store_true",
                   help="if another ingest or removal is running on this index, exit 1 instead of waiting")

    p = command("watch", "Poll RSS/Atom feeds, sitemaps or folders and ingest what is new, until interrupted.",
                "assistant.commands:watch")
    p.add_argument("feeds_file", type=Path, metavar="FEEDS_FILE",
                   help="a folder to watch for new article files, or a file with one feed or sitemap (URL or"
                        " file) or folder a line (# comments)")
    p.add_argument("--every", default="30m", help="time between polls of the list: 30m (default), 2h, 90s")
    p.add_argument("--once", action="store_true", help="poll every feed once, then stop")
    p.add_argument("--rounds", type=int, default=None, help="stop after this many rounds")
    p.add_argument("--host-delay", type=float, default=1.0,
                   help="seconds between two requests to one host (default 1)")

    command("info", "Show what the index holds and how it was built.", "assistant.commands:info")

    p = command("check", "Check an index: SQLite integrity, FAISS/BM25 against the database, orphan rows.",
                "assistant.commands:check")
    p.add_argument("--repair", action="store_true",
                   help="rebuild what is derived (FAISS, BM25, SQLite indexes) and delete orphan rows")

    p = command("export", "Write the index folder to a .tar with a SHA256SUMS file (a backup).",
                "assistant.commands:export")
    p.add_argument("out", metavar="OUT.tar", type=Path)

    p = command("import", "Restore an exported .tar into a new or empty --index folder, checking every file.",
                "assistant.commands:import_")
    p.add_argument("archive", metavar="ARCHIVE.tar", type=Path)
    _add_later_commands(sub, command)
    return parser


def index_location(value: str) -> Path | str:
    """A folder (Path) or a store URI such as milvus://HOST:PORT/NAME, kept as written (a Path would
    fold its '//')."""
    return value if "://" in value else Path(value)


def _add_later_commands(sub, command) -> None:
    """Commands of the engine, UI and evaluation; their options live next to their code."""
    from assistant.commands import register_extra_commands

    register_extra_commands(command)


def _lazy(target: str):
    module_name, func_name = target.split(":")

    def handler(args):
        import importlib

        return getattr(importlib.import_module(module_name), func_name)(args)

    return handler


if __name__ == "__main__":
    sys.exit(main())
