"""Conversations: what one browser tab is talking about, kept on the server per session and mirrored to the
browser (gr.BrowserState) so that a reload or a restart of the tab keeps them.

A `Session` is the one source of truth of a tab's chat: questions wait in `pending` (first in, first out)
and are answered one at a time under the session's lock, so every question gets exactly one answer in the
order asked, and the chat and the passages panel are always drawn from the same turns.

What goes to the browser is compact JSON (`answer_json`): the answer's sentences, its cited passages and the
passages it was drawn from (never the whole fused ranking), so localStorage holds many conversations."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from assistant.options import AskOptions
from assistant.results import Answer, AnswerSentence, CitedPassage, Filters, Passage, Story, Support

MAX_CONVERSATIONS = 30  # kept in the browser's history list; the oldest go first
MAX_TURNS = 200  # per conversation
MAX_SAVED_CHARS = 2_000_000  # JSON kept in the browser for the archived conversations (localStorage is ~5 MB)
TITLE_CHARS = 80


def answer_json(answer: Answer, full_ranking: bool = False) -> dict:
    """The answer as JSON for the browser and the /ask endpoint: `passages` holds the k passages the answer
    was drawn from (`Answer.shown`), best first; with full_ranking, every fused passage and `shown` too."""
    if not full_ranking:  # the fused ranking (up to 200 passages) is not serialised only to be dropped
        data = replace(answer, passages=()).to_dict()
        data["passages"] = data.pop("shown")
        return data
    return answer.to_dict()


def answer_from_json(data: dict) -> Answer:
    """An Answer rebuilt from `answer_json` (or `Answer.to_dict`) output."""
    def passage(p: dict) -> Passage:
        known = {k: p.get(k) for k in Passage.__dataclass_fields__ if k in p}
        known["also_reported_by"] = tuple(known.get("also_reported_by") or ())
        known["duplicate_ids"] = tuple(known.get("duplicate_ids") or ())
        return Passage(**known)

    passages = tuple(passage(p) for p in data.get("passages") or ())
    shown = tuple(passage(p) for p in data["shown"]) if "shown" in data else passages
    filters = data.get("filters") or {}
    window = data.get("time_window")
    return Answer(
        question=str(data.get("question") or ""), query=str(data.get("query") or data.get("question") or ""),
        sentences=tuple(_sentence(s) for s in data.get("sentences") or ()),
        cited=tuple(CitedPassage(c["number"], passage(c["passage"]), tuple(tuple(h) for h in c["highlights"]))
                    for c in data.get("cited") or ()),
        passages=passages, abstained=bool(data.get("abstained")), confidence=float(data.get("confidence") or 0.0),
        mode=str(data.get("mode") or "hybrid"),
        filters=Filters(tuple(filters.get("sources") or ()), tuple(filters.get("article_ids") or ()),
                        filters.get("date_from"), filters.get("date_to")),
        note=str(data.get("note") or ""), timings=dict(data.get("timings") or {}), as_of=data.get("as_of"),
        time_note=str(data.get("time_note") or ""), time_window=tuple(window) if window else None,
        chronological=bool(data.get("chronological")), shown=shown, reason=str(data.get("reason") or ""),
        kind=str(data.get("kind") or "answer"), stories=tuple(_story(s) for s in data.get("stories") or ()),
        more_stories=int(data.get("more_stories") or 0), window_articles=int(data.get("window_articles") or 0),
    )


def _fields(cls, data: dict) -> dict:
    return {k: v for k, v in data.items() if k in cls.__dataclass_fields__}


def _sentence(data: dict) -> AnswerSentence:
    known = _fields(AnswerSentence, data)
    known["also"] = tuple(Support(**_fields(Support, a)) for a in known.get("also") or ())
    return AnswerSentence(**known)


def _story(data: dict) -> Story:
    known = _fields(Story, data)
    for name, value in known.items():
        if isinstance(value, list):
            known[name] = tuple(value)
    return Story(**known)


@dataclass
class ChatTurn:
    """One question of a conversation and what came of it: an Answer, or an error in one line."""

    question: str
    answer: Answer | None = None
    error: str = ""
    again: bool = False  # "Search all dates": the previous question asked again without its dates
    time_aware: bool = True
    explicit_as_of: bool = False
    max_sentences: int | None = None  # the answer length asked for

    def to_json(self) -> dict:
        return {"question": self.question, "answer": answer_json(self.answer) if self.answer else None,
                "error": self.error, "again": self.again, "time_aware": self.time_aware,
                "explicit_as_of": self.explicit_as_of, "max_sentences": self.max_sentences}

    @classmethod
    def from_json(cls, data: dict) -> ChatTurn:
        answer = data.get("answer")
        return cls(str(data.get("question") or ""), answer_from_json(answer) if answer else None,
                   str(data.get("error") or ""), bool(data.get("again")), data.get("time_aware") is not False,
                   bool(data.get("explicit_as_of")),
                   data["max_sentences"] if isinstance(data.get("max_sentences"), int) else None)


@dataclass
class Pending:
    """A question shown in the chat and waiting for its answer, with the options it was asked with."""

    question: str
    options: AskOptions
    history: tuple[Answer, ...]  # the earlier answers it is read with (follow-ups)
    again: bool = False


@dataclass
class Conversation:
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    created: float = field(default_factory=time.time)
    turns: list[ChatTurn] = field(default_factory=list)

    @property
    def title(self) -> str:
        first = next((t.question for t in self.turns if not t.again), "")
        return (first[:TITLE_CHARS - 1] + "…") if len(first) > TITLE_CHARS else (first or "New conversation")

    def answers(self) -> list[Answer]:
        return [t.answer for t in self.turns if t.answer is not None]

    def to_json(self) -> dict:
        return {"id": self.id, "created": self.created, "turns": [t.to_json() for t in self.turns[-MAX_TURNS:]]}

    @classmethod
    def from_json(cls, data: Any) -> Conversation:
        """A saved conversation; anything unreadable (an old format, a damaged store) starts afresh."""
        try:
            return cls(str(data["id"]), float(data.get("created") or time.time()),
                       [ChatTurn.from_json(t) for t in data.get("turns") or ()])
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls()


class Session:
    """One browser tab's conversations: the open one (with its waiting questions) and the archive."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # guards the fields below; held briefly
        self.answering = threading.Lock()  # one answering loop at a time, so answers come in order
        self.current = Conversation()
        self.archive: list[Conversation] = []  # newest first
        self.pending: deque[Pending] = deque()
        self.epoch = 0  # bumped by stop, new and open: an answer begun before is dropped
        self.shown_turn: int | None = None  # the turn whose passages the panel shows
        self.restored = False
        self.last_push: tuple | None = None  # (question, options, time) of the last question queued

    def __deepcopy__(self, memo) -> Session:  # gr.State copies its initial value: a fresh session
        return Session()

    def restore(self, current: Any, archive: Any) -> None:
        """The conversations saved in the browser, once per page load."""
        with self.lock:
            if self.restored:
                return
            self.restored = True
            if isinstance(current, dict) and current.get("id"):
                self.current = Conversation.from_json(current)
            if isinstance(archive, list):
                seen = {self.current.id}
                for item in archive[:MAX_CONVERSATIONS]:
                    conversation = Conversation.from_json(item)
                    if conversation.turns and conversation.id not in seen:
                        seen.add(conversation.id)
                        self.archive.append(conversation)
            self.shown_turn = self.last_answered()

    def last_answered(self) -> int | None:
        turns = self.current.turns
        return len(turns) - 1 if turns else None

    def start_new(self) -> None:
        with self.lock:
            self.epoch += 1
            self.pending.clear()
            if self.current.turns:
                self.archive.insert(0, self.current)
                del self.archive[MAX_CONVERSATIONS:]
            self.current = Conversation()
            self.shown_turn = None

    def open(self, conversation_id: str) -> bool:
        with self.lock:
            found = next((c for c in self.archive if c.id == conversation_id), None)
            if found is None:
                return False
            self.archive.remove(found)
            self.epoch += 1
            self.pending.clear()
            if self.current.turns:
                self.archive.insert(0, self.current)
            self.current = found
            self.shown_turn = self.last_answered()
            return True

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation; deleting the open one leaves an empty one open."""
        with self.lock:
            if conversation_id == self.current.id:
                self.epoch += 1
                self.pending.clear()
                self.current = Conversation()
                self.shown_turn = None
                return True
            before = len(self.archive)
            self.archive = [c for c in self.archive if c.id != conversation_id]
            return len(self.archive) < before

    def archive_json(self) -> list[dict]:
        """The archived conversations as saved in the browser, cut to the storage budget (oldest dropped)."""
        with self.lock:
            saved, size = [], 0
            for conversation in self.archive:
                data = conversation.to_json()
                size += len(json.dumps(data, ensure_ascii=False))
                if size > MAX_SAVED_CHARS:
                    break
                saved.append(data)
            return saved

    def history_choices(self) -> list[tuple[str, str]]:
        """(label, id) of every conversation, the open one first."""
        with self.lock:
            rows = [self.current] + self.archive
            return [(f"{c.title} ({len(c.turns)} question{'s' if len(c.turns) != 1 else ''})"
                     if c.turns else c.title, c.id) for c in rows]


# --- export -------------------------------------------------------------------------------------------

def source_list(answer: Answer) -> list[dict]:
    """The numbered sources of an answer (its cited passages; the closest ones when it abstained)."""
    from ui.views import shown_passages

    return [{"number": s.number, "title": s.passage.title, "source": s.passage.source,
             "published_at": s.passage.published_at, "url": s.passage.url, "article_id": s.passage.article_id,
             "passage": s.passage.text} for s in shown_passages(answer)]


def answer_plain_text(answer: Answer) -> str:
    """The answer as clean text for the clipboard: sentences with [n] markers, then the numbered sources."""
    from ui.views import abstention_text

    if answer.abstained:
        lines = [abstention_text(answer)]
        heading = "Closest passages:"
    else:
        lines = [answer.text]
        heading = "Sources:"
    sources = source_list(answer)
    if sources:
        lines += ["", heading]
        lines += [f"[{s['number']}] " + " · ".join(x for x in (s["title"] or "(untitled)", s["source"],
                                                                 s["published_at"], s["url"]) if x)
                  for s in sources]
    return "\n".join(lines)


def _md_text(text: str) -> str:
    from ui.views import md_literal

    return md_literal(text)


def _markers(sentence) -> str:
    return getattr(sentence, "markers", None) or f"[{sentence.citation}]"


def turn_markdown(turn: ChatTurn, heading: str = "##") -> str:
    """One question and its answer as Markdown: sentences with [n] markers, then the numbered source list
    with title, source, date and URL. Article text is escaped, so it stays text."""
    from ui.views import abstention_text

    out = [f"{heading} {_md_text(turn.question)}" + (" (again, over all dates)" if turn.again else ""), ""]
    answer = turn.answer
    if answer is None:
        out += [f"*Could not answer: {_md_text(turn.error)}*", ""]
        return "\n".join(out)
    if answer.abstained:
        out += [_md_text(abstention_text(answer)), ""]
    elif answer.chronological or answer.kind == "briefing":
        out += [f"- ({_md_text(s.published_at or 'undated')}) {_md_text(s.text)} {_markers(s)}"
                for s in answer.sentences] + [""]
    else:
        out += [" ".join(f"{_md_text(s.text)} {_markers(s)}" for s in answer.sentences), ""]
    sources = source_list(answer)
    if sources:
        out += ["Closest passages:" if answer.abstained else "Sources:", ""]
        for s in sources:
            parts = [f"**{_md_text(s['title'] or '(untitled)')}**"]
            parts += [_md_text(x) for x in (s["source"], s["published_at"]) if x]
            from ui.views import safe_url

            url = safe_url(s["url"])
            if url:
                parts.append(f"<{url}>")
            out.append(f"{s['number']}. " + " · ".join(parts))
        out.append("")
    if answer.as_of:
        out += [f"*As of {answer.as_of}" + (f" · {_md_text(answer.time_note)}" if answer.time_note else "") + "*",
                ""]
    return "\n".join(out)


def conversation_markdown(conversation: Conversation, turns: Sequence[ChatTurn] | None = None) -> str:
    turns = conversation.turns if turns is None else turns
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.created))
    head = [f"# {_md_text(conversation.title)}", "", f"*Article Assistant conversation, started {stamp}*", ""]
    return "\n".join(head + [turn_markdown(t) for t in turns]).rstrip() + "\n"


def conversation_json(conversation: Conversation, turns: Sequence[ChatTurn] | None = None) -> str:
    turns = conversation.turns if turns is None else turns
    rows = []
    for t in turns:
        row = {"question": t.question, "again": t.again, "error": t.error or None, "answer": None, "sources": []}
        if t.answer is not None:
            data = answer_json(t.answer)
            row["answer"] = {k: data[k] for k in ("text", "abstained", "note", "as_of", "time_note", "sentences",
                                                  "cited", "mode", "filters", "chronological")}
            row["sources"] = source_list(t.answer)
        rows.append(row)
    return json.dumps({"id": conversation.id, "title": conversation.title, "created": conversation.created,
                       "turns": rows}, ensure_ascii=False, indent=2, default=_jsonable) + "\n"


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)
