"""What kind of answer a question wants (an amount, a number, a date, a person, a place, an
organisation, a reason) and whether a sentence offers one that the question does not already contain:
cheap cues that lift the sentence holding the answer above sentences that merely repeat the
question's topic, and that let an abstention say what is missing ("... but not the amount")."""

from __future__ import annotations

import re

KINDS = ("amount", "number", "date", "person", "place", "organisation", "reason")
# How an abstention names what the articles do not say, per kind.
MISSING = {"amount": "the amount", "number": "the number", "date": "when", "person": "who", "place": "where",
           "organisation": "which organisation", "reason": "why"}

# "By how much did shares fall?" asks for a difference (a share, a multiple, a count), not a sum of money:
# a number, which includes sums (demo dev: "By how much were false positives higher ...?", answered by
# "10 to 100 times higher", abstained for want of a currency).
_AMOUNT_Q = re.compile(r"\b((?<!by )how much|what (price|amount|sum|fee|fine|cost|value)|(price|cost|fee|fine|worth|"
                       r"value|paid|pay|spend|spent|raise|raised|earn|earned|charge|bill|salary|budget|"
                       r"revenue|profits?|loss(es)?) (of|for|was|is|did)|how (big|large) (a|was the|is the) "
                       r"(fine|bill|deal|sum|loss|profit|payment|fee))\b", re.I)
_NUMBER_Q = re.compile(r"\b(how (many|long|old|far|large|big|high|often|fast|tall|heavy)|what (percentage|percent|"
                       r"share|number|proportion|fraction|age|rate|score)|by how|how much (did|has|have|had|was|"
                       r"were|is|are) .* (rise|fall|grow|drop|increase|decrease|jump|slip))\b", re.I)
_DATE_Q = re.compile(r"\b(when|what (year|day|date|month|time)|which (year|day|date|month)|how soon|until when)\b",
                     re.I)
_PERSON_Q = re.compile(r"\b(who|whom|whose|which (lawmakers?|senators?|persons?|officials?|executives?|ceo|leaders?|"
                       r"judges?|players?|actors?|actress|singers?|authors?|researchers?|scientists?|"
                       r"politicians?|candidates?|members?|governors?|mayors?|presidents?|ministers?|managers?|"
                       r"coach|boss|chief|director|star|man|woman|driver|rider|athlete|footballer|striker|"
                       r"band|artist|musician|comedian|chancellor|mp))\b", re.I)
_PLACE_Q = re.compile(r"\b(where|which (city|cities|state|states|country|countries|town|region|continent|nation|"
                      r"venue|stadium|ground|airport|island|area|county|capital))\b", re.I)
_ORG_Q = re.compile(r"\b(which|what) (company|companies|firm|firms|organi[sz]ations?|group|bank|banks|team|teams|"
                    r"club|clubs|party|parties|network|broadcaster|retailer|carrier|airline|agency|body|"
                    r"regulator|union|university|court|studio|label|channel|publisher|maker|manufacturer|"
                    r"operator|brand|website|charity|department|ministry|watchdog)\b", re.I)
_REASON_Q = re.compile(r"\b(why|what (caused|led to|prompted|drove|triggered|is behind|was behind|explains?)|"
                       r"for what reason|how come|what (is|was|were|are) the (reason|cause)s?|"
                       r"on what grounds)\b", re.I)

_CURRENCY = re.compile(r"(\$|£|€|¥)\s?\d|\d[\d,.]*\s*(bn|m|million|billion|trillion)?\s*(dollars|pounds|euros|"
                       r"yen|francs|rupees|roubles|yuan|pence|cents)\b|\b\d[\d,.]*\s*(bn|m)\b", re.I)
_NUMBER = re.compile(r"(\$|£|€)?\d[\d,.]*\s*(%|percent|million|billion|trillion|bn|m)?|\b(one|two|three|four|five|"
                     r"six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|"
                     r"dozen|half|twice|third|quarter)\b", re.I)
_DATE = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|december|"
                   r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|"
                   r"(19|20)\d\d|next (week|month|year)|last (week|month|year)|this (week|month|year))\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z'’-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-z'’-]+)+\b")
_CAPITAL = re.compile(r"\b[A-Z][a-zA-Z'’&-]+\b")
_ORG = re.compile(r"\b([A-Z][a-zA-Z&'’-]*\s)*(Inc|Corp|Ltd|plc|Group|Bank|Party|Council|Commission|Union|"
                  r"Association|Agency|Authority|Office|Club|United|City|FC|Company|Airways|Airlines|"
                  r"Motors|Records|Studios|Network|Institute|University|Court|Federation|Board|Trust)\b|"
                  r"\b[A-Z]{2,}\b")
_REASON = re.compile(r"\b(because|due to|owing to|as a result|result of|after|following|amid|since|so that|"
                     r"in order to|blamed|caused by|led to|lead to|reason|reasons|thanks to|on the grounds|"
                     r"over concerns|concerns? (about|over|that)|fears? (of|that|over)|in protest|aimed at|"
                     r"designed to|to (help|allow|avoid|prevent|stop|boost|cut|protect|ensure))\b", re.I)


_WITHHELD = re.compile(r"\b(undisclosed|not (been )?(disclosed|revealed|announced|known|made public|confirmed|said)|"
                       r"(declined|refused|would not|wouldn't|did not|didn't) (to )?(say|reveal|disclose|comment|"
                       r"confirm|give details)|no details|remains? unclear|unknown|undecided|has yet to|have yet to|"
                       r"is yet to|are yet to|not yet (been )?(decided|set|fixed|named))\b", re.I)


def withholds(sentence: str) -> bool:
    """Whether the sentence says the fact is not known or not told ("for an undisclosed fee")."""
    return bool(_WITHHELD.search(sentence))


def expected_type(question: str) -> str | None:
    """One of KINDS, or None (an open question: "what happened", "what did X say")."""
    for kind, pattern in (("reason", _REASON_Q), ("amount", _AMOUNT_Q), ("number", _NUMBER_Q), ("date", _DATE_Q),
                          ("organisation", _ORG_Q), ("person", _PERSON_Q), ("place", _PLACE_Q)):
        if pattern.search(question):
            return kind
    return None


def offers(sentence: str, kind: str | None, question: str) -> bool:
    """Whether the sentence holds something of that kind that the question does not mention."""
    if kind is None:
        return False
    q = question.lower()

    def new(matches) -> bool:
        return any(m.group().strip().lower() not in q for m in matches if m.group().strip())

    if kind == "amount":
        return new(_CURRENCY.finditer(sentence))
    if kind == "number":
        return new(_NUMBER.finditer(sentence))
    if kind == "date":
        return new(_DATE.finditer(sentence))
    if kind == "person":
        return new(_NAME.finditer(sentence))
    if kind == "organisation":
        return new(_ORG.finditer(sentence))
    if kind == "reason":
        return bool(_REASON.search(sentence))
    words = [m.group() for m in _CAPITAL.finditer(sentence)][1:]  # place: skip the sentence's first word
    return any(w.lower() not in q for w in words)
