"""What kind of answer a question wants (a number, a person, a date, a place) and whether a
sentence offers one that the question does not already contain: cheap cues that lift the
sentence holding the answer above sentences that merely repeat the question's topic."""

from __future__ import annotations

import re

_NUMBER_Q = re.compile(r"\b(how (many|much|long|old|far|large|big|high|often)|what (percentage|percent|share|"
                       r"number|proportion|fraction|amount|price|age)|by how)\b", re.I)
_DATE_Q = re.compile(r"\b(when|what (year|day|date|month|time)|which (year|day|date|month))\b", re.I)
_PERSON_Q = re.compile(r"\b(who|whom|whose|which (lawmakers?|senators?|persons?|officials?|executives?|"
                       r"ceo|leaders?|judges?|players?|actors?|actress|singers?|authors?|researchers?|"
                       r"scientists?|politicians?|candidates?|members?|governors?|mayors?|presidents?))\b", re.I)
_PLACE_Q = re.compile(r"\b(where|which (city|cities|state|states|country|countries|town|region|continent|nation))\b",
                      re.I)

_NUMBER = re.compile(r"(\$|£|€)?\d[\d,.]*\s*(%|percent|million|billion|trillion|bn|m)?|\b(one|two|three|four|five|"
                     r"six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|"
                     r"dozen|half|twice)\b", re.I)
_DATE = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|"
                   r"(19|20)\d\d)\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-z'’-]+)+\b")
_CAPITAL = re.compile(r"\b[A-Z][a-zA-Z'’-]+\b")


def expected_type(question: str) -> str | None:
    """'number', 'date', 'person', 'place' or None (open question)."""
    for kind, pattern in (("number", _NUMBER_Q), ("date", _DATE_Q), ("person", _PERSON_Q), ("place", _PLACE_Q)):
        if pattern.search(question):
            return kind
    return None


def offers(sentence: str, kind: str | None, question: str) -> bool:
    """Whether the sentence holds something of that kind that the question does not mention."""
    if kind is None:
        return False
    q = question.lower()
    if kind == "number":
        return any(m.group().strip().lower() not in q for m in _NUMBER.finditer(sentence) if m.group().strip())
    if kind == "date":
        return any(m.group().lower() not in q for m in _DATE.finditer(sentence))
    if kind == "person":
        return any(m.group().lower() not in q for m in _NAME.finditer(sentence))
    words = [m.group() for m in _CAPITAL.finditer(sentence)][1:]  # skip the sentence's first word
    return any(w.lower() not in q for w in words)
