"""ui/app.py and ui/command.py: the wiring (stable API names and elem_ids), the API's history reading, the
serve command's defaults, login parsing and its refusal to serve beyond loopback without a login."""

from __future__ import annotations

import argparse

import pytest

from ui.evaluation import DEMO_DATASET


def test_app_exposes_stable_api_names_only(assistant):
    from ui.app import build_app

    app = build_app(assistant, examples=["What did IBM say?"], secret="s" * 16)
    public = {fn.api_name for fn in app.fns.values() if fn.api_visibility == "public"}
    assert public == {"ask", "list_articles", "ingest"}
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"chat", "question", "ask-button", "stop-button", "new-conversation", "delete-conversation", "history",
            "passages", "article-view", "upload", "upload-replace", "articles-table", "filter-sources",
            "filter-from", "filter-to", "passages-k", "answer-length", "mode", "remove-select", "remove-button",
            "as-of", "time-aware", "search-all-dates", "export-button", "export-file", "eval-source",
            "eval-dataset", "eval-upload", "eval-modes", "eval-limit", "eval-run", "eval-stop", "eval-status",
            "eval-report", "eval-plot", "eval-failures", "example-0"} <= ids
    blocks = {getattr(b, "elem_id", None): b for b in app.blocks.values()}
    assert blocks["eval-dataset"].value == DEMO_DATASET.name and blocks["eval-limit"].value == "all"
    assert blocks["passages-k"].maximum == 20 and blocks["answer-length"].maximum == 10
    assert blocks["example-0"].value == "What did IBM say?"  # whole, and it sends on click


def test_turns_from_api_history():
    from assistant.errors import UserError
    from ui.app import turns_from_json

    previous = {"question": "What did IBM say?", "query": "IBM say", "text": "IBM left. [1]", "abstained": False,
                "cited": [{"passage": {"article_id": "ibm"}}, {"passage": {"article_id": "ibm"}}]}
    turns = turns_from_json([previous, "And Amazon?"])
    assert turns[0].cited_article_ids == ("ibm",) and turns[0].answer_text == "IBM left. [1]"
    assert turns[1] == "And Amazon?"
    with pytest.raises(UserError, match="history items must be"):
        turns_from_json([42])
    with pytest.raises(UserError, match="'history' must be a list"):
        turns_from_json("What did IBM say?")


def test_serve_command_defaults_to_localhost_and_parses_auth():
    from assistant.cli import build_parser
    from assistant.errors import UserError
    from ui.command import parse_auth

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.auth, args.share, args.index, args.insecure_no_auth) == (
        "127.0.0.1", None, None, False, None, False)
    assert parse_auth("ann:pa:ss, bob:x") == [("ann", "pa:ss"), ("bob", "x")]
    assert parse_auth("") is None
    with pytest.raises(UserError):
        parse_auth("no-password")


@pytest.mark.parametrize("extra", [{"host": "0.0.0.0"}, {"share": True}])
def test_serving_beyond_loopback_needs_auth_or_an_explicit_flag(extra, monkeypatch):
    from assistant.errors import UserError
    from ui import command

    monkeypatch.delenv("ASSISTANT_AUTH", raising=False)
    args = argparse.Namespace(**({"host": "127.0.0.1", "port": None, "auth": None, "share": False, "index": None,
                                  "insecure_no_auth": False} | extra))
    with pytest.raises(UserError, match="add --auth USER:PASSWORD, or --insecure-no-auth"):
        command.run(args)


def test_starting_page_answers_while_the_app_loads():
    import urllib.error
    import urllib.request

    from tests.conftest import free_port
    from ui.starting import StartingPage

    port = free_port()
    with StartingPage("127.0.0.1", port, stream=open("/dev/null", "w")) as starting:  # noqa: SIM115
        starting.step("Building the <demo> index")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        page = caught.value.read().decode()
        assert caught.value.code == 503 and "Building the &lt;demo&gt; index" in page and 'http-equiv="refresh"' in page
    with pytest.raises(urllib.error.URLError):  # gone: the app takes the port over
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
