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
    from assistant.commands import encoder_for
    from assistant.engine import Assistant
    from ui.app import build_app, launch

    auth = parse_auth(args.auth or os.environ.get("ASSISTANT_AUTH"))
    if (args.share or args.host not in LOCAL_HOSTS) and not auth:
        print("warning: the app is reachable from other machines without a login; consider --auth",
              file=sys.stderr)
    print("loading the model and the index" + (" (building the demo index on first use)" if args.index is None
                                                else ""), file=sys.stderr)
    assistant = Assistant.load(args.index, encoder=encoder_for(args))
    app = build_app(assistant)
    try:
        _, local_url, share_url = launch(app, host=args.host, port=args.port, auth=auth, share=args.share,
                                         prevent_thread_lock=True, quiet=True)
        print(f"Article Assistant at {local_url}" + (f" and {share_url}" if share_url else "")
              + (" (login required)" if auth else "") + "; API: see ui/API.md; Ctrl+C stops it", file=sys.stderr)
        app.block_thread()
    finally:
        app.close()
        assistant.close()
    return 0
