"""While `assistant serve` loads the model and builds or opens the index, the address already answers: a
small page says what is being done and reloads itself until the app takes over the same port."""

from __future__ import annotations

import html
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Article Assistant is starting</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#111827}}
progress{{width:100%}}</style></head><body><main><h1>Article Assistant is starting</h1>
<p role="status">{step} ({seconds:.0f} s so far)</p><progress aria-label="Starting"></progress>
<p>This page reloads by itself; the app opens here when it is ready.</p></main></body></html>"""


class StartingPage:
    """`with StartingPage(host, port) as starting: starting.step("Loading the model")`; stops on exit."""

    def __init__(self, host: str, port: int, stream=sys.stderr):
        self.host, self.port, self.stream = host, port, stream
        self.current = "Starting"
        self.started = time.monotonic()
        self.server: ThreadingHTTPServer | None = None

    def step(self, text: str) -> None:
        self.current = text
        print(f"[{time.monotonic() - self.started:5.1f} s] {text}", file=self.stream, flush=True)

    def __enter__(self) -> StartingPage:
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                body = PAGE.format(step=html.escape(page.current),
                                   seconds=time.monotonic() - page.started).encode()
                self.send_response(503)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Retry-After", "2")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        try:
            self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError:
            self.server = None  # the port is taken: the app's own launch will say so
            return self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def free_port(host: str, first: int = 7860, tries: int = 100) -> int:
    """The first port from `first` that can be bound on host (Gradio's own default search)."""
    import socket

    for port in range(first, first + tries):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue
    raise OSError(f"no free port in {first}-{first + tries - 1}")
