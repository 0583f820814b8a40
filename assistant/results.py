"""What `Assistant.ask` returns: frozen dataclasses that serialise to JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from index.filters import Filters

__all__ = ["ABSTAIN_MESSAGE", "Answer", "AnswerSentence", "CitedPassage", "Filters", "Passage", "PassageText",
           "Story", "Support"]


class PassageText(Protocol):
    """Where a passage's text is read from when first asked for (index.store.ChunkTexts: a ranking's
    chunks in one snapshot): text(position) == article.body[start:end] of that passage."""

    def text(self, position: int) -> str: ...


class LazyText:
    """The `text` field of Passage: given as a str, or as a PassageText that reads it on first access and
    keeps it (issue 16: an answer at 1M chunks read the bodies of all ~200 ranked passages, ~7 ms, where
    it uses the few it shows). Reading `passage.text` always gives the str; asdict, repr, ==, hash,
    pickle and copies read it too; `Passage.but` carries it over unread."""

    def __set_name__(self, owner, name: str) -> None:
        self._slot = f"_{name}"

    def __get__(self, instance, owner=None) -> str:
        if instance is None:  # no class-level default: the field stays required (dataclasses' convention)
            raise AttributeError("text")
        value = instance.__dict__[self._slot]
        if not isinstance(value, str):
            value = instance.__dict__[self._slot] = value.text(instance.position)
        return value

    def __set__(self, instance, value: str | PassageText) -> None:  # only __init__ gets here (frozen)
        instance.__dict__[self._slot] = value


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata; start/end are offsets in the article body and
    text is article.body[start:end] (read when first used, see LazyText)."""

    position: int
    chunk_id: int
    article_id: str
    title: str
    source: str
    published_at: str | None
    url: str | None
    text: LazyText = LazyText()  # required (no default): a str, or a PassageText to read it from when used
    start: int
    end: int
    score: float  # the fused score that ranked it
    dense_score: float | None = None
    keyword_score: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None
    also_reported_by: tuple[str, ...] = ()  # sources of near-duplicate articles folded into this one
    duplicate_ids: tuple[str, ...] = ()  # ids of those articles

    def but(self, **changes: Any) -> Passage:
        """A copy with these fields changed (dataclasses.replace), its text still unread if it was. A new
        span needs its text given with it."""
        if ("start" in changes or "end" in changes) and "text" not in changes:
            raise ValueError("a passage with a new start or end needs its text")
        return replace(self, **{"text": self.__dict__["_text"], **changes})

    @property
    def text_read(self) -> bool:
        """Whether the text has been read (or was given): a shown passage's is, most ranked ones' not."""
        return isinstance(self.__dict__["_text"], str)

    def __getstate__(self) -> dict:  # pickles and copies carry the text, not the snapshot it comes from
        return {**self.__dict__, "_text": self.text}


@dataclass(frozen=True)
class Support:
    """Another article's sentence that states the same fact as an answer sentence, cited beside it:
    article.body[start:end] == text, passage [citation] highlights it."""

    citation: int
    article_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class AnswerSentence:
    """A verbatim article sentence: article.body[start:end] == text. `citation` is its [n]; `also` are
    the other articles that say the same (their [n] follow it: "... [1][3]")."""

    text: str
    citation: int
    article_id: str
    start: int
    end: int
    score: float  # the fitted probability that it is the evidence asked for
    published_at: str | None = None
    also: tuple[Support, ...] = ()

    @property
    def markers(self) -> str:
        return "".join(f"[{n}]" for n in (self.citation, *(a.citation for a in self.also)))


@dataclass(frozen=True)
class CitedPassage:
    """Passage [number] of the answer; highlights are (start, end) offsets within passage.text."""

    number: int
    passage: Passage
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Story:
    """One story of a briefing: its lead sentence is the answer sentence cited [citation]; the articles
    that cover it (near-duplicates and same-event reports), newest first, and the newest one's date."""

    citation: int
    article_ids: tuple[str, ...]
    published_at: str | None


@dataclass(frozen=True)
class Answer:
    question: str
    query: str  # what was searched: the question, expanded from the conversation when elliptical
    sentences: tuple[AnswerSentence, ...]
    cited: tuple[CitedPassage, ...]
    passages: tuple[Passage, ...]  # everything retrieved, best first
    abstained: bool
    confidence: float  # the fitted probability that the articles answer the question (support model)
    mode: str
    filters: Filters = field(default_factory=Filters)
    note: str = ""  # e.g. why it abstained, or how a follow-up was read
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    as_of: str | None = None  # the reference date time expressions were read against (ISO)
    time_note: str = ""  # e.g. "Searching articles from 9 to 16 June 2022"; "" when time played no part
    time_window: tuple[str | None, str | None] | None = None  # the window found in the question, if any
    chronological: bool = False  # sentences listed by date, each with its article's date
    shown: tuple[Passage, ...] = ()  # the k passages (after grouping) the answer was drawn from
    reason: str = ""  # why it abstained, in plain words ("The articles mention X but not the amount.")
    kind: str = "answer"  # "answer", or "briefing": the main stories of a date window, one sentence each
    stories: tuple[Story, ...] = ()  # briefing: the stories listed, in the order of the sentences
    more_stories: int = 0  # briefing: stories in the window beyond those listed
    window_articles: int = 0  # briefing: articles the window holds

    @property
    def text(self) -> str:
        """The answer as one paragraph with [n] markers, or the abstention message."""
        if self.abstained:
            return f"{ABSTAIN_MESSAGE} {_sentence(self.reason)}".strip()
        if self.kind == "briefing":
            return briefing_text(self)
        if self.chronological:
            return " ".join(f"({s.published_at or 'undated'}) {s.text} {s.markers}" for s in self.sentences)
        return " ".join(f"{s.text} {s.markers}" for s in self.sentences)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["text"] = self.text
        return data


def briefing_text(answer: Answer) -> str:
    """One line per story, newest first: "(date) lead sentence [n]", the article count when several cover
    it, then how many more stories the window holds."""
    sizes = {story.citation: len(story.article_ids) for story in answer.stories}
    lines = []
    for s in answer.sentences:
        size = sizes.get(s.citation, 1)
        lines.append(f"({s.published_at or 'undated'}) {s.text} [{s.citation}]" + (f" ({size} articles)" if size > 1
                                                                                  else ""))
    if answer.more_stories:
        lines.append(f"…and {answer.more_stories} more stor{'ies' if answer.more_stories != 1 else 'y'} "
                     f"({answer.window_articles} articles in all).")
    return "\n".join(lines)


def _sentence(text: str) -> str:
    """A reason as a sentence: capitalised, with its full stop."""
    text = text.strip()
    return f"{text[0].upper()}{text[1:]}{'' if text.endswith(('.', '?', '!')) else '.'}" if text else ""


ABSTAIN_MESSAGE = "The articles do not seem to answer this question."
