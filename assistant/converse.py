"""Follow-up questions without a language model: when a question leans on earlier turns
("What did he say about it?", "And Amazon?"), search with terms carried over from them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.summarize import content_terms

_PRONOUNS = re.compile(r"\b(he|she|it|its|they|them|their|his|her|him|this|that|these|those|there|the company|"
                       r"the firm|the ban|the move|the decision|the law|the bill|the report|the study)\b", re.I)
_SHIFT = re.compile(r"^\s*(and|what about|how about|and what about|same for|what of)\b\s*(.*?)\s*\??\s*$", re.I)
_ENTITY = re.compile(r"\b(?:[A-Z][a-zA-Z0-9&.'’-]*|[A-Z]{2,})(?:\s+(?:[A-Z][a-zA-Z0-9&.'’-]*|of|for))*"
                     r"(?<!\bof)(?<!\bfor)")
_QUESTION_WORDS = {"What", "Who", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are", "Was",
                   "Were", "Can", "Could", "Will", "Would", "Should", "And", "The", "A", "An", "In", "On", "It",
                   "He", "She", "They", "This", "That", "Tell", "Give", "Show", "List", "Has", "Have", "Had", "I"}


@dataclass(frozen=True)
class Turn:
    """What a follow-up may borrow from an earlier turn."""

    question: str  # as asked
    query: str  # as searched (already expanded if it was itself a follow-up)
    answer_text: str = ""
    cited_article_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    query: str
    is_follow_up: bool
    boost_article_ids: tuple[str, ...] = ()
    note: str = ""


def entities(text: str) -> list[str]:
    """Capitalised names in the text (IBM, Arvind Krishna, Justice in Policing Act), in order."""
    found = []
    for match in _ENTITY.finditer(text):
        name = match.group().strip(" .")
        words = name.split()
        while words and words[0] in _QUESTION_WORDS:
            words = words[1:]
        name = " ".join(words)
        if name and name not in found:
            found.append(name)
    return found


def is_elliptical(question: str) -> bool:
    """Short, pronoun-led or topic-shift questions that cannot stand alone."""
    if _SHIFT.match(question):
        return True
    terms = content_terms(question)
    has_pronoun = bool(_PRONOUNS.search(question))
    return (has_pronoun and not entities(question)) or len(terms) <= 1


def resolve(question: str, history: Sequence[Turn]) -> Resolved:
    """The query to search for this question, given the conversation so far."""
    if not history or not is_elliptical(question):
        return Resolved(question, False)
    last = history[-1]
    shift = _SHIFT.match(question)
    if shift and shift.group(2):
        new_topic = shift.group(2)
        old = entities(last.query)
        if old:  # "And Amazon?" after "What did IBM announce?" → "What did Amazon announce?"
            query = last.query.replace(old[0], new_topic, 1)
        else:
            query = f"{new_topic} {last.query}"
        return Resolved(query, True, (), f"read as: {query}")
    carried = entities(last.answer_text)[:3] + entities(last.query)[:3]
    covered = " ".join(carried + [question]).lower()
    carried_terms = [t for t in _keywords(last.query) if t.lower() not in covered]
    unique = {t.lower(): t for t in reversed(carried + carried_terms)}
    extra = " ".join(reversed(unique.values()))
    query = f"{question} {extra}".strip()
    return Resolved(query, True, last.cited_article_ids, f"read with the previous question: {query}")


def _keywords(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9'-]+", text)
    return [w for w in words if content_terms(w) and w not in _QUESTION_WORDS]
