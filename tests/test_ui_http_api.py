"""POST /api/v1/ask through a real HTTP client (httpx) against the app launched in-process (fake encoder, tiny
index): the answer and its offsets, the same answer as Gradio's /ask, field-named 400s, follow-ups, the
bounded pool (503 when full), login, and no Gradio session kept per call."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes import FakeEncoder, make_ui_assistant

Client = pytest.importorskip("gradio_client").Client
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

QUESTION = "What did IBM say in June 2020?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from ui.app import build_app, launch

    engine = make_ui_assistant(tmp_path_factory)
    app = build_app(engine)
    _, url, _ = launch(app, port=free_port(), prevent_thread_lock=True, quiet=True)
    with httpx.Client(base_url=url, timeout=30) as http:
        yield http, app, url, engine
    app.close()
    engine.close()


def ask(http: httpx.Client, **body) -> httpx.Response:
    return http.post("/api/v1/ask", json=body)


def test_answer_with_exact_offsets_and_the_shown_passages_only(served):
    http, _, _, engine = served
    response = ask(http, question=QUESTION, k=3)
    assert response.status_code == 200, response.text
    data = response.json()
    assert not data["abstained"] and data["sentences"] and data["cited"]
    for cited in data["cited"]:
        for start, end in cited["highlights"]:
            assert cited["passage"]["text"][start:end].strip()
    for sentence in data["sentences"]:  # each sentence is verbatim in its article, at its offsets
        body = engine.article(sentence["article_id"]).body
        assert body[sentence["start"]:sentence["end"]] == sentence["text"]
    assert len(data["passages"]) <= 3 and "shown" not in data
    full = ask(http, question=QUESTION, k=3, full_ranking=True).json()
    assert len(full["passages"]) > len(full["shown"]) == len(data["passages"])
    assert [p["text"] for p in full["shown"]] == [p["text"] for p in data["passages"]]


def test_same_answer_as_the_gradio_endpoint(served):
    http, _, url, _ = served
    lean = ask(http, question=QUESTION, as_of="2020-06-12", max_sentences=2).json()
    client = Client(url, verbose=False)
    try:
        gradio = client.predict(question=QUESTION, as_of="2020-06-12", max_sentences=2, api_name="/ask")
    finally:
        client.close()
    for key in ("text", "sentences", "cited", "passages", "as_of", "time_note", "abstained"):
        assert lean[key] == gradio[key], key


def test_follow_up_with_history(served):
    http, _, _, _ = served
    first = ask(http, question="For how long is Amazon stopping police from using Rekognition?").json()
    follow = ask(http, question="And IBM?", history=[first])
    assert follow.status_code == 200, follow.text
    assert "ibm" in follow.json()["query"].lower()
    assert ask(http, question="And IBM?", history=["What did Amazon say?"]).status_code == 200


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"question": QUESTION, "k": 50}, "k", "'k' must be a whole number from 1 to 20, not 50"),
    ({"question": QUESTION, "k": "abc"}, "k", "'k' must be a whole number, not 'abc'"),
    ({"question": QUESTION, "date_from": "June"}, "date_from", "the 'from' date must look like 2020-06-10"),
    ({"question": QUESTION, "as_of": "yesterday"}, "as_of", "the 'as of' date must look like 2020-06-10"),
    ({"question": QUESTION, "mode": "x"}, "mode", "unknown retrieval mode 'x'"),
    ({"question": QUESTION, "full_ranking": "yes"}, "full_ranking", "'full_ranking' must be true or false"),
    ({"question": QUESTION, "history": "earlier"}, "history", "'history' must be a list"),
    ({"question": QUESTION, "history": [42]}, "history", "history items must be earlier /ask results"),
    ({"question": QUESTION, "kk": 5}, "kk", "unknown field 'kk'"),
    ({"question": ""}, "question", "the question is empty"),
    ({"question": 7}, "question", "the question must be text, not int"),
    ({"k": 5}, "question", "the body has no 'question'"),
    ([QUESTION], "body", "the body must be a JSON object"),
])
def test_bad_input_is_a_400_naming_the_field(served, body, field, reason):
    http, _, _, _ = served
    response = http.post("/api/v1/ask", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field and reason in response.json()["error"]


def test_a_body_that_is_not_json(served):
    http, _, _, _ = served
    response = http.post("/api/v1/ask", content=b"{question", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["field"] == "body"
    assert "not JSON" in response.json()["error"]


def test_an_oversized_body_is_refused(served):
    http, _, _, _ = served
    response = ask(http, question="x" * (1024 * 1024 + 10))
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_an_engine_failure_gives_its_reason(served, monkeypatch):
    http, _, _, engine = served

    def broken(*args, **kwargs):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(engine, "ask", broken)
    response = ask(http, question=QUESTION)
    assert response.status_code == 500
    assert response.json()["error"] == "the question could not be answered (RuntimeError: the disk caught fire)"


def test_no_gradio_session_is_kept_per_call(served):
    http, app, _, _ = served
    sessions = app.server_app.state_holder.session_data
    before = len(sessions)
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: ask(http, question=QUESTION).status_code, range(30)))
    assert statuses == [200] * 30
    assert len(sessions) == before
    queued = http.post("/gradio_api/call/v2/ask", json={"question": QUESTION}).json()["event_id"]
    assert "event: complete" in http.get(f"/gradio_api/call/ask/{queued}").text
    assert len(sessions) == before + 1  # what each plain-HTTP call of the Gradio API costs
    from ui.app import SESSION_CAPACITY

    assert app.server_app.state_holder.capacity == SESSION_CAPACITY < 10000  # and how many are kept at most


class GatedEncoder(FakeEncoder):
    """Holds every question's embedding until `gate` is set, counting the questions held at once."""

    def __init__(self):
        super().__init__()
        self.gate, self.held, self.most, self._lock = threading.Event(), 0, 0, threading.Lock()
        self.armed = False

    def encode(self, texts):
        if self.armed:
            with self._lock:
                self.held += 1
                self.most = max(self.most, self.held)
            try:
                assert self.gate.wait(30), "the test never opened the gate"
            finally:
                with self._lock:
                    self.held -= 1
        return super().encode(texts)


def test_the_pool_is_bounded_and_refuses_when_full(tmp_path_factory):
    from ui import http_api
    from ui.app import build_app, launch
    from ui.events import Events

    encoder = GatedEncoder()
    engine = make_ui_assistant(tmp_path_factory, encoder=encoder)
    app = build_app(engine)
    app.lean_api = http_api.router(Events(engine), workers=2, waiting=1)
    try:
        _, url, _ = launch(app, port=free_port(), prevent_thread_lock=True, quiet=True)
        encoder.armed = True
        with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(3) as pool:
            held = [pool.submit(ask, http, question=f"{QUESTION} {i}") for i in range(3)]
            for _ in range(100):  # two answering, one waiting its turn
                if encoder.held == 2:
                    break
                threading.Event().wait(0.05)
            refused = ask(http, question=QUESTION)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            assert "busy" in refused.json()["error"]
            encoder.gate.set()
            assert [f.result().status_code for f in held] == [200, 200, 200]
        assert encoder.most == 2
    finally:
        encoder.gate.set()
        app.close()
        engine.close()


def test_login(tmp_path_factory):
    from ui.app import build_app, launch

    engine = make_ui_assistant(tmp_path_factory)
    app = build_app(engine)
    try:
        _, url, _ = launch(app, port=free_port(), auth=[("ann", "s3cret")], prevent_thread_lock=True, quiet=True)
        with httpx.Client(base_url=url, timeout=30) as http:
            refused = ask(http, question=QUESTION)
            assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
            assert http.post("/api/v1/ask", json={"question": QUESTION}, auth=("ann", "nope")).status_code == 401
            assert http.post("/api/v1/ask", json={"question": QUESTION}, auth=("ann", "s3cret")).status_code == 200
        with httpx.Client(base_url=url, timeout=30) as browser:  # the page's login cookie works too
            assert browser.post("/login", data={"username": "ann", "password": "s3cret"}).status_code == 200
            assert ask(browser, question=QUESTION).status_code == 200
    finally:
        app.close()
        engine.close()
