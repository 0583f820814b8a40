"""Retake docs/screenshot.png: the app answering a demo question, captured with Debian's Chromium.

    .venv/bin/python -m ui.screenshot [--out docs/screenshot.png] [--index DIR] [--question TEXT]

Playwright drives the system Chromium (/usr/bin/chromium): `playwright install` needs the internet.
The helpers here are shared with tests/test_ui_browser.py so both drive the page the same way."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEFAULT_QUESTION = "For how long is Amazon stopping police from using Rekognition?"
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(playwright, executable: str = CHROMIUM):
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def ask(page, question: str, timeout_ms: int = 60_000) -> None:
    """Type a question, press Ask and wait until its answer (or abstention) is in the chat."""
    bots = page.locator('#chat [data-testid="bot"]')
    before = bots.count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask-button").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#chat [data-testid=\"bot\"]').length > n", arg=before, timeout=timeout_ms)
    page.wait_for_selector("#passages .panel", timeout=timeout_ms)


def open_marker(page, number: int = 1, timeout_ms: int = 20_000) -> None:
    """Click the last answer's [number] marker and wait for the article view to show a highlight."""
    page.locator(f'#chat [data-testid="bot"] a[href$="-{number}"]').last.click()
    page.wait_for_selector("#article-view .article mark.hl", timeout=timeout_ms)
    page.wait_for_timeout(300)  # the scroll to the first highlight runs after the render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "screenshot.png")
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: the demo corpus's)")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"error: no Chromium at {args.chromium}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from assistant.engine import Assistant
    from ui.app import build_app, launch

    assistant = Assistant.load(args.index)
    app = build_app(assistant)
    try:
        _, url, _ = launch(app, port=free_port(), prevent_thread_lock=True, quiet=True)
        with sync_playwright() as p:
            browser = launch_chromium(p, args.chromium)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(url)
                page.wait_for_selector("#question textarea")
                ask(page, args.question)
                open_marker(page, 1)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
            finally:
                browser.close()
    finally:
        app.close()
        assistant.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
