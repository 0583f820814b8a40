"""The public endpoints through gradio_client against the app launched in-process (fake encoder, tiny index):
ask, list_articles, ingest; upload limits; login; and that an ingest never holds up a question."""

from __future__ import annotations

import json
import re
import threading
import urllib.request

import pytest

from tests.conftest import free_port
from tests.fakes import FakeEncoder, make_ui_assistant

Client = pytest.importorskip("gradio_client").Client
AppError = pytest.importorskip("gradio_client.exceptions").AppError
handle_file = pytest.importorskip("gradio_client").handle_file

# Gradio's queue trips pandas deprecation warnings of its own; they say nothing about this app.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

GATE_WORD = "gatedzanzibar"  # an ingested text containing it waits for the test to open the gate


class GatedEncoder(FakeEncoder):
    """Holds the embedding of any text containing GATE_WORD until `gate` is set: an ingest in progress."""

    def __init__(self):
        super().__init__()
        self.gate, self.waiting = threading.Event(), threading.Event()

    def encode(self, texts):
        if any(GATE_WORD in t.lower() for t in texts):
            self.waiting.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return super().encode(texts)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from ui.app import build_app, launch

    encoder = GatedEncoder()
    engine = make_ui_assistant(tmp_path_factory, encoder=encoder)
    app = build_app(engine)
    _, url, _ = launch(app, port=free_port(), prevent_thread_lock=True, quiet=True)
    client = Client(url, verbose=False)
    yield client, encoder, url
    encoder.gate.set()
    client.close()
    app.close()
    engine.close()


def test_api_lists_exactly_the_stable_names(served):
    client, _, _ = served
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/ask", "/list_articles", "/ingest"}


def test_list_articles(served):
    client, _, _ = served
    rows = client.predict(api_name="/list_articles")
    assert {"ibm", "amazon", "weather", "hostile"} <= {r["id"] for r in rows}
    ibm = next(r for r in rows if r["id"] == "ibm")
    assert ibm["source"] == "Ledger Wire" and ibm["published_at"] == "2020-06-08" and ibm["chunks"] >= 1


def test_ask_and_follow_up(served):
    client, _, _ = served
    first = client.predict(question="What did IBM say about facial recognition?", api_name="/ask")
    assert not first["abstained"] and "[1]" in first["text"]
    assert first["cited"][0]["passage"]["article_id"] == "ibm"
    assert first["sentences"][0]["citation"] == 1
    follow = client.predict(question="And Amazon?", history=[first], api_name="/ask")
    assert follow["question"] == "And Amazon?" and follow["query"] != "And Amazon?"  # read with the history


def test_ask_options_and_bad_input(served):
    client, _, _ = served
    only = client.predict(question="police", sources=["Harbor Times"], k=2, mode="keyword", max_sentences=1,
                          api_name="/ask")
    assert only["passages"] and {p["source"] for p in only["passages"]} == {"Harbor Times"}
    assert only["mode"] == "keyword" and len(only["sentences"]) == 1
    with pytest.raises(AppError, match="must look like 2020-06-10"):
        client.predict(question="What did IBM say?", date_from="June", api_name="/ask")
    with pytest.raises(AppError, match="question is empty"):
        client.predict(question="  ", api_name="/ask")


def test_ask_returns_the_shown_passages_and_the_full_ranking_on_request(served):
    client, _, _ = served
    light = client.predict(question="What did IBM say about facial recognition?", k=2, api_name="/ask")
    assert 1 <= len(light["passages"]) <= 2 and "shown" not in light
    cited = {c["passage"]["chunk_id"] for c in light["cited"]}
    assert cited <= {p["chunk_id"] for p in light["passages"]}
    full = client.predict(question="What did IBM say about facial recognition?", k=2, full_ranking=True,
                          api_name="/ask")
    assert len(full["passages"]) > len(full["shown"]) == len(light["passages"])


@pytest.mark.parametrize(("body", "reason"), [
    ({"question": "What did IBM say?", "k": "abc"}, "'k' must be a whole number, not 'abc'"),
    ({"question": 42}, "the question must be text, not int"),
    ({"question": "What did IBM say?", "k": 50}, "'k' must be a whole number from 1 to 20"),
    ({"question": "What did IBM say?", "history": "x"}, "'history' must be a list"),
    ({"question": "What did IBM say?", "as_of": "9999-12-31"}, "must be between 1800-01-01 and 2200-12-31"),
    ({"question": "What did IBM say?", "mode": 3}, "'mode' must be one of hybrid, dense, keyword"),
    ({"question": "What did IBM say?", "full_ranking": "yes"}, "'full_ranking' must be true or false"),
])
def test_every_http_error_carries_its_reason(served, body, reason):
    _, _, url = served
    stream = http_call(url, body, route="v2/ask")
    assert "event: error" in stream
    message = json.loads(stream.split("data: ", 1)[1].splitlines()[0])
    assert message and reason in str(message)


def test_ask_as_of_and_time_aware(served):
    client, _, _ = served
    params = {p["parameter_name"]: p for p in
              client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/ask"]["parameters"]}
    assert list(params)[-4:] == ["as_of", "time_aware", "per_article", "full_ranking"]
    assert params["as_of"]["parameter_default"] is None and params["time_aware"]["parameter_default"] is True
    assert params["per_article"]["parameter_default"] == 2

    dated = client.predict(question="What did IBM say in June 2020?", api_name="/ask")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", dated["as_of"])  # the default date is always reported
    assert dated["time_note"] == "Searching articles from June 2020"
    assert dated["time_window"] == ["2020-06-01", "2020-06-30"]
    assert dated["passages"][0]["published_at"].startswith("2020-06")  # the window is preferred

    anchored = client.predict(question="What did IBM say in June 2020?", as_of="2020-06-12", api_name="/ask")
    assert anchored["as_of"] == "2020-06-12"
    undated = client.predict(question="What did IBM say in June 2020?", as_of="2020-06-12", time_aware=False,
                             api_name="/ask")
    assert (undated["as_of"], undated["time_note"], undated["time_window"]) == ("2020-06-12", "", None)

    timeline = client.predict(question="timeline of police use of facial recognition", api_name="/ask")
    assert timeline["chronological"] and timeline["text"].startswith(f"({timeline['sentences'][0]['published_at']})")
    assert all("also_reported_by" in p for p in timeline["passages"])
    with pytest.raises(AppError, match="'as of' date must look like 2020-06-10"):
        client.predict(question="What did IBM say?", as_of="yesterday", api_name="/ask")


def http_call(url: str, body: dict, route: str = "ask") -> str:
    """The two plain-HTTP requests of ui/API.md: queue the call, then read its event stream."""
    request = urllib.request.Request(f"{url}gradio_api/call/{route}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event}", timeout=30) as response:
        return response.read().decode()


def http_ask(url: str, body: dict, route: str = "ask") -> dict:
    stream = http_call(url, body, route)
    assert "event: complete" in stream, stream[:500]
    return json.loads(stream.split("data: ", 1)[1].splitlines()[0])[0]


def test_plain_http_ask_positional_and_by_name(served):
    _, _, url = served
    first = ["What did IBM say in June 2020?", None, None, None, None, 5, "hybrid", 3]
    assert http_ask(url, {"data": [*first, None, True, 2, False]})["time_note"] == "Searching articles from June 2020"
    assert "needed: 12, got: 11" in http_call(url, {"data": [*first, None, True, 2]})  # a reason, not null
    full = http_ask(url, {"data": [*first, "2020-06-12", False, 0, False]})
    assert (full["as_of"], full["time_note"]) == ("2020-06-12", "")
    named = http_ask(url, {"question": "What did IBM say in June 2020?", "as_of": "2020-06-12"}, route="v2/ask")
    # June 2020 ends at the as-of date: nothing later was published when the question was asked
    assert named["as_of"] == "2020-06-12" and named["time_note"] == "Searching articles from 1 to 12 June 2020"


def test_ingest_adds_and_rejects_by_type(served, tmp_path):
    client, _, _ = served
    article = tmp_path / "harbour-report.md"
    article.write_text("---\ntitle: Harbour report\nsource: Port Gazette\npublished_at: 2020-06-11\n---\n"
                       "The harbour master said the new cranes arrive in July.\n")
    message, report = client.predict(files=[handle_file(str(article))], api_name="/ingest")
    assert report["added"] == ["harbour-report"] and "Added 1" in message
    assert "harbour-report" in {r["id"] for r in client.predict(api_name="/list_articles")}
    answer = client.predict(question="When do the new harbour cranes arrive?", api_name="/ask")
    assert answer["passages"][0]["article_id"] == "harbour-report"

    bad = tmp_path / "tool.exe"
    bad.write_text("MZ")
    with pytest.raises(Exception, match="Invalid file type"):
        client.predict(files=[handle_file(str(bad))], api_name="/ingest")


def test_upload_size_limit(served, tmp_path):
    from ui.events import MAX_UPLOAD_BYTES

    client, _, _ = served
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"police camera " * (MAX_UPLOAD_BYTES // 14 + 10))
    with pytest.raises(Exception, match="maximum file size"):
        client.predict(files=[handle_file(str(huge))], api_name="/ingest")


def test_questions_are_answered_while_an_ingest_runs(served, tmp_path):
    client, encoder, _ = served
    article = tmp_path / "gated.md"
    article.write_text(f"---\ntitle: Slow article\n---\nThe {GATE_WORD} lighthouse keeper retired in June.\n")
    job = client.submit(files=[handle_file(str(article))], api_name="/ingest")
    try:
        assert encoder.waiting.wait(20), "the ingest never started embedding"
        answers = []
        asker = threading.Thread(target=lambda: answers.append(
            client.predict(question="What did IBM say about facial recognition?", api_name="/ask")))
        asker.start()
        asker.join(20)
        assert answers and not answers[0]["abstained"], "a question waited for the ingest"
        # The half-done ingest is invisible: the snapshot questions use has not changed.
        assert "gated" not in {r["id"] for r in client.predict(api_name="/list_articles")}
        assert not job.done()
    finally:
        encoder.gate.set()
    message, report = job.result(timeout=30)
    assert report["added"] == ["gated"]
    assert "gated" in {r["id"] for r in client.predict(api_name="/list_articles")}


def test_login(tmp_path_factory):
    from ui.app import build_app, launch

    engine = make_ui_assistant(tmp_path_factory)
    app = build_app(engine)
    try:
        _, url, _ = launch(app, port=free_port(), auth=[("ann", "s3cret")], prevent_thread_lock=True, quiet=True)
        with pytest.raises(ValueError, match="credentials were not provided"):  # refused before any call
            Client(url, verbose=False)
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        assert client.predict(api_name="/list_articles")
        client.close()
    finally:
        app.close()
        engine.close()
