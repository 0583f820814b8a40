"""Why an answer was withheld, in plain words a reader can act on: "The articles mention Yukos and
Gazprom but not the amount." rather than a confidence number."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer_type import MISSING
from assistant.evidence import QuestionTerms
from assistant.results import Passage
from assistant.summarize import content_terms
from index.filters import Filters

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+")
# Words of a question's frame rather than its substance: when they time it ("this week", "recently") or
# hedge and colour it ("approximately", "major", "popular"), their absence from the articles says nothing
# about what is missing. On the dev abstentions the reason read "The articles mention US but not “major”
# and “week”" for "Which major US retailer announced this week it is slashing prices?".
_NOT_TELLING = frozenset("""week weeks weekend month months year years day days today tonight yesterday tomorrow
recently recent lately currently now ago last next early earlier late later soon this past approximately
roughly around nearly almost about reportedly major popular new latest famous well-known much-loved several
various many much big biggest large largest top""".split())


def reason(asked: QuestionTerms, question: str, passages: Sequence[Passage], filters: Filters | None) -> str:
    if not passages:
        if filters is not None and not filters.is_empty():
            return "No article matches your filters."
        return "No article shares any words or meaning with the question."
    shown = " ".join(f"{p.title} {p.text}" for p in passages)
    have = content_terms(shown)
    lowered = shown.lower()
    words = [w for w in dict.fromkeys(_WORD.findall(question)) if content_terms(w)]
    named = [e for e in asked.entities if e.lower() in lowered or content_terms(e) <= have]
    present = [w for w in words if content_terms(w) <= have and not any(w in e for e in named)]
    missing = [w for w in words if not content_terms(w) <= have and w.lower() not in _NOT_TELLING]
    topic = _join(named[:3]) if named else _quoted(present)
    if not topic:
        return "No article shares the question's words; the closest passages are only loosely related."
    what = MISSING.get(asked.kind or "") or (_quoted(missing) if missing else "")
    if what:
        return f"The articles mention {topic} but not {what}."
    return f"The articles mention {topic}, but no sentence clearly answers the question."


def _quoted(words: Sequence[str]) -> str:
    return _join([f"“{w}”" for w in words[:3]])


def _join(items: Sequence[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
