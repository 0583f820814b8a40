"""`assistant serve`: the web app on 127.0.0.1 (demo corpus unless --index), optional login."""

from __future__ import annotations

import os
import sys

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def register(command) -> None:
    p = command("serve", "Open the web app: chat with cited passages, and manage the corpus.", "ui.command:run")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 shares on the network)")
    p.add_argument("--port", type=int, default=None, help="port (default: 7860 or the next free one)")
    p.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                   help="require this login (several: comma-separated); default: $ASSISTANT_AUTH, else none")
    p.add_argument("--share", action="store_true",
                   help="also publish a temporary public gradio.live link (off by default; needs internet)")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="allow --host other than loopback (or --share) without --auth: anyone who can reach "
                        "the port can ask, upload and remove articles")


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """'user:password[,user2:password2]' → [(user, password), ...]; the password may contain ':'."""
    if not value or not value.strip():
        return None
    pairs = []
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            from assistant.errors import UserError

            raise UserError("--auth / ASSISTANT_AUTH must look like user:password")
        pairs.append((user, password))
    return pairs


def run(args) -> int:
    import gc
    import logging

    from assistant.errors import UserError
    from ui.starting import StartingPage, free_port

    auth = parse_auth(args.auth or os.environ.get("ASSISTANT_AUTH"))
    local = args.host in LOCAL_HOSTS and not args.share
    if not local and not auth:
        if not getattr(args, "insecure_no_auth", False):
            raise UserError(f"--host {args.host}{' with --share' if args.share else ''} makes the app reachable "
                            "from other machines: add --auth USER:PASSWORD, or --insecure-no-auth to serve it "
                            "without a login anyway")
        print("warning: the app is reachable from other machines without a login (--insecure-no-auth)",
              file=sys.stderr)
    port = args.port or free_port(args.host)
    with StartingPage(args.host, port) as starting:
        print(f"Article Assistant is starting at http://{args.host}:{port}/ (the page says what it is doing)",
              file=sys.stderr)
        starting.step("Loading the program")
        import bm25s  # noqa: F401 - imported here so that its logger can be quietened

        from assistant.commands import encoder_for
        from assistant.engine import Assistant
        from ui.app import build_app, launch

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
        starting.step("Loading the embedding model (the first run also prepares it: about 30 s)")
        encoder = encoder_for(args)
        if args.index is None:
            from index.demo import demo_index_dir

            built = demo_index_dir(encoder.name).joinpath("manifest.json").exists()
            starting.step("Opening the demo index" if built else
                          "Building the demo index (first run only; about a minute)")
        else:
            starting.step(f"Opening the index {args.index}")
        assistant = Assistant.load(args.index, encoder=encoder)
        starting.step("Starting the web app")
        app = build_app(assistant, local=local, authenticated=bool(auth))
    try:
        _, local_url, share_url = launch(app, host=args.host, port=port, auth=auth, share=args.share,
                                         prevent_thread_lock=True, quiet=True)
        # Everything alive now (model, index, Gradio's components: ~220k objects) lives as long as the app: left
        # to the cycle collector, each full collection scanned it all with the world stopped (0.15-0.55 s under
        # load: every question in flight waited); frozen, 0.03 s on the lean path (eval/bench_gc.py).
        gc.freeze()
        print(f"Article Assistant at {local_url}" + (f" and {share_url}" if share_url else "")
              + (" (login required)" if auth else "") + "; API: see ui/API.md; Ctrl+C stops it", file=sys.stderr)
        app.block_thread()
    finally:
        app.close()
        assistant.close()
    return 0
