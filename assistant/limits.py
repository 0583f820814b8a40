"""What a question and its dates may be: checked once, at the API's edge, with one-line errors.

Dates are limited to 1900-01-01 .. 2100-12-31: wide enough for any news archive, and far enough from
`date.min`/`date.max` that "this month", "last decade" or "10 years ago" never overflow.
"""

from __future__ import annotations

import re
from datetime import date

from assistant.errors import BadRequest

MAX_QUESTION_CHARS = 2000
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2100, 12, 31)
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all C0/C1 controls but tab and newline
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def clean_question(question: object) -> str:
    """The question with lone surrogates (invalid UTF-8 read with surrogateescape, or a broken "\\ud83d"
    escape) replaced by U+FFFD and control characters by spaces, stripped; refused when it is not text,
    empty or longer than MAX_QUESTION_CHARS."""
    if isinstance(question, bytes):
        question = question.decode("utf-8", errors="replace")
    if not isinstance(question, str):
        raise BadRequest(f"the question must be text, not {type(question).__name__}")
    question = _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", question)).strip()
    if not question:
        raise BadRequest("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}")
    return question


def check_date(value: date | str, label: str = "as of") -> date:
    """A date (or YYYY-MM-DD text) inside MIN_DATE..MAX_DATE."""
    if not isinstance(value, date):
        text = str(value).strip()
        try:
            if not _ISO_DAY.match(text):
                raise ValueError
            value = date.fromisoformat(text[:10])
        except ValueError:
            raise BadRequest(f"the '{label}' date must look like 2020-06-10, not {text[:40]!r}") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise BadRequest(f"the '{label}' date {value.isoformat()} is outside {MIN_DATE.isoformat()} to "
                         f"{MAX_DATE.isoformat()}")
    return value
