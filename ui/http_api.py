"""`POST /api/v1/ask`: a lean JSON endpoint beside the Gradio UI, for API clients.

One request per question (the Gradio API takes two: queue the call, then read its event stream), no
Gradio session per call (Gradio builds one for every call without a `session_hash`: the config of all the
app's components, ~30% of the server's CPU per question under load, kept in memory afterwards), and the
engine in a bounded thread pool (snapshots are thread-safe). Arguments are checked by the same code as the
UI's and `/ask`'s, so the messages are the same; see ui/API.md."""

from __future__ import annotations

import inspect
import secrets
import threading
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.security import HTTPBasic

from assistant.converse import Turn
from assistant.errors import UserError, user_message
from ui.conversations import answer_json
from ui.events import Events, FieldError, form_options

ASK_PATH = "/api/v1/ask"
OPTION_FIELDS = ("sources", "date_from", "date_to", "k", "mode", "max_sentences", "as_of", "time_aware",
                 "per_article")
FIELDS = ("question", "history", *OPTION_FIELDS, "full_ranking")
MAX_BODY_BYTES = 1024 * 1024  # a question, its options and a long conversation's history fit easily
_basic = HTTPBasic(auto_error=False)


class Busy(Exception):
    """More questions are waiting than the endpoint queues; the caller should retry shortly (HTTP 503)."""


class AskPool:
    """At most `workers` questions answered at once in threads, at most `waiting` more waiting their
    turn; beyond that a question is refused at once (as the Gradio queue refuses when full)."""

    def __init__(self, *, workers: int, waiting: int):
        self.limiter = anyio.CapacityLimiter(workers)
        self.capacity = workers + waiting
        self._admitted = 0
        self._lock = threading.Lock()

    async def run(self, fn, *args):
        with self._lock:
            if self._admitted >= self.capacity:
                raise Busy(f"the app is busy ({self._admitted} questions in hand); try again in a moment")
            self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        finally:
            with self._lock:
                self._admitted -= 1


def turns_from_json(history: Any) -> list[Turn | str]:
    """Earlier /ask results (dicts) as the engine's conversation turns; strings are earlier questions."""
    if history is not None and not isinstance(history, list):
        raise FieldError("history", "'history' must be a list of earlier /ask results or questions")
    turns: list[Turn | str] = []
    for item in history or []:
        if isinstance(item, str):
            turns.append(item)
        elif isinstance(item, dict) and item.get("question"):
            try:
                turns.append(Turn.from_dict(item))  # with the sentences it showed, so follow-ups show new ones
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise FieldError("history", f"a 'history' item is not an earlier /ask result ({err})") from None
        else:
            raise FieldError("history", "history items must be earlier /ask results (objects) or earlier "
                                        "questions (strings)")
    return turns


def parse_request(body: Any) -> tuple[Any, list[Turn | str], Any, bool]:
    """A JSON body as (question, history, AskOptions, full_ranking); a FieldError names what is wrong."""
    if not isinstance(body, dict):
        raise FieldError("body", f"the body must be a JSON object with a 'question', not {type(body).__name__}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"unknown field '{unknown[0]}' (known: {', '.join(FIELDS)})")
    if "question" not in body:
        raise FieldError("question", "the body has no 'question'")
    full_ranking = body.get("full_ranking", False)
    if not isinstance(full_ranking, bool):
        raise FieldError("full_ranking", f"'full_ranking' must be true or false, not {full_ranking!r}")
    given = {name: body[name] for name in OPTION_FIELDS if name in body and body[name] is not None}
    options = form_options(**given)
    return body["question"], turns_from_json(body.get("history")), options, full_ranking


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": message, "field": field}, status, headers)


async def _signed_in(request: Request) -> bool:
    """True when the app has no login, or the caller sent the Gradio login cookie or matching Basic auth."""
    app = request.app
    auth, dependency = getattr(app, "auth", None), getattr(app, "auth_dependency", None)
    if dependency is not None:  # an app launched with Gradio's auth_dependency: as Gradio's own routes do
        user = dependency(request)
        return (await user if inspect.isawaitable(user) else user) is not None
    if auth is None:
        return True
    token = (request.cookies.get(f"access-token-{app.cookie_id}")
             or request.cookies.get(f"access-token-unsecure-{app.cookie_id}"))
    if token and token in app.tokens:
        return True
    credentials = await _basic(request)
    if credentials is None or auth is None:
        return False
    if callable(auth):
        result = auth(credentials.username, credentials.password)
        return bool(await result if inspect.isawaitable(result) else result)
    expected = auth.get(credentials.username)
    return expected is not None and secrets.compare_digest(credentials.password.encode(), str(expected).encode())


def router(events: Events, *, workers: int, waiting: int) -> APIRouter:
    """The endpoint's route, to be served by the FastAPI app Gradio launches (ui.app.launch adds it)."""
    pool = AskPool(workers=workers, waiting=waiting)
    routes = APIRouter()

    def answer(question, history, options, full_ranking) -> dict:
        return answer_json(events.ask(question, history, options), full_ranking=full_ranking)

    @routes.post(ASK_PATH, include_in_schema=False)
    async def ask(request: Request) -> Response:
        if not await _signed_in(request):
            return _error(401, "sign in first: HTTP Basic auth with the app's user and password",
                          headers={"WWW-Authenticate": 'Basic realm="Article Assistant"'})
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KB", "body")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            return _error(400, f"the body is not JSON ({err})", "body")
        try:
            question, history, options, full_ranking = parse_request(body)
            return _json(await pool.run(answer, question, history, options, full_ranking))
        except FieldError as err:
            return _error(400, str(err), err.field)
        except Busy as err:
            return _error(503, str(err), headers={"Retry-After": "1"})
        except UserError as err:
            return _error(400, str(err))
        except Exception as err:  # noqa: BLE001 - the caller gets the reason, not a bare 500
            message = user_message(err)
            return _error(503 if message else 500, message or f"the question could not be answered "
                                                               f"({type(err).__name__}: {err})")

    return routes
