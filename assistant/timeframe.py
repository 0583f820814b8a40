"""Time cues in a question → a published-date window, a recency preference, a chronological ordering.

News questions are anchored in time ("last month", "since March 2021"). The window becomes a date
prior and its words leave the search query (relative ones like "last month" match nothing useful in an
article); calendar dates ("in 2004") stay in it when the articles are undated (see engine.py).
Spans are found with conservative patterns of our own, because `dateparser.search` also reads
"may", "the march in" or "now" as dates; `dateparser` then resolves each span against `as_of`
and reports its granularity (day, week, month, year), which a small table turns into a window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

from dateparser.date import DateDataParser

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")

# --- patterns ---------------------------------------------------------------------------------------
# "May" and "March" are months only when capitalised or next to a day or a year ("you may", "the march").
_MONTH = (r"\b(?:(?i:january|february|april|june|july|august|september|october|november|december)"
          r"|May|March|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)(?![A-Za-z])")
_MONTH_LOOSE = rf"(?:{_MONTH}|\b(?i:may|march)\b)"
# A year is 19xx/20xx standing alone: not "$2020", "2020%", "2,019", "2019-20" or part of a longer number.
_YEAR = r"(?<![\w$£€.,])(?:19|20)\d{2}(?![\w%]|[.,]\d|-\d)"
_DAY = r"(?<![\w$£€.-])(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?![\w%])"
_WEEKDAY = r"\b(?i:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
_NUMBER = r"(?i:\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_MODIFIER = r"(?i:(?:early|mid|late)[\s-]+|the\s+(?:start|beginning|middle|end)\s+of\s+)"

# Spans that are dates on their own.
_DATED = "|".join((
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)",
    rf"(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH_LOOSE},?\s+{_YEAR}",
    rf"(?:{_WEEKDAY},?\s+)?{_MONTH_LOOSE}\s+{_DAY},?\s+{_YEAR}",
    rf"{_MODIFIER}?{_MONTH_LOOSE},?\s+(?:of\s+)?{_YEAR}",
    rf"(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}",
    rf"{_MONTH}\s+{_DAY}",
    r"(?:the\s+)?\b(?:19|20)\d0s\b",
    rf"\b{_NUMBER}\s+(?i:(?:day|week|month|year|decade)s?\s+ago)\b",
    r"\b(?i:today|yesterday|(?:this|last|previous)\s+(?:week|month|year))\b",
    rf"\b(?i:last|this)\s+{_WEEKDAY}",
))
# Spans that are dates only after a preposition: "in May", "before 2021", "on Friday" (not "Black Friday").
_BARE = rf"{_MODIFIER}?(?:{_MONTH}|{_YEAR})|{_WEEKDAY}"
_POINT = rf"(?:{_DATED}|{_BARE})"

# Preposition → how the point's window becomes the frame's window.
_PREPOSITIONS = {
    "in": "within", "on": "within", "during": "within", "throughout": "within", "at": "within", "from": "within",
    "since": "since", "after": "after", "before": "before", "prior to": "before",
    "until": "until", "till": "until", "through": "until", "by": "until", "up to": "until",
}
_PREPOSITION = r"\b(?P<prep>(?i:" + "|".join(p.replace(" ", r"\s+") for p in _PREPOSITIONS) + r"))"

_PREP_POINT_RE = re.compile(rf"{_PREPOSITION}\s+(?P<point>{_POINT})(?P<onwards>\s+(?i:onwards?)\b)?")
_POINT_RE = re.compile(rf"(?P<point>{_DATED})")
_RANGE_RE = re.compile(rf"\b(?i:from|between)\s+(?P<a>{_POINT})\s+(?:(?i:to|and|until|till|through)|[-–])\s+"
                       rf"(?P<b>{_POINT})")
_ROLLING_RE = re.compile(rf"(?:\b(?i:in|over|during|within|for|from)\s+)?(?P<the>\b(?i:the)\s+)?"
                         rf"\b(?P<which>(?i:past|last|previous))\s+(?:(?P<n>{_NUMBER})\s+)?"
                         r"(?P<unit>(?i:day|week|month|year|decade))s?\b")
# "before the ban", "after the 2020 election": a window we cannot place without knowing the event.
_EVENT_RE = re.compile(r"\b(?i:before|after|since|until|till|prior\s+to|following|ahead\s+of)\s+"
                       r"(?i:the|his|her|its|their)\s+(?:(?:19|20)\d{2}\s+)?(?:[A-Z][\w'-]*\s+)*[A-Za-z][\w'-]*")
# Not a bare "recent" or "now" mid-sentence: "a recent Turing Award winner", "now that it has dropped".
_RECENCY_RE = re.compile(r"\b(?i:most\s+recent(?:ly)?|latest|newest|recently|currently|current\s+(?:status|state)|"
                         r"nowadays|right\s+now|now(?=\s*[?.!]|\s*$)|lately|these\s+days|so\s+far)\b")
_CHRONOLOGICAL_RE = re.compile(
    r"\b(?i:timeline|chronolog\w*|history\s+of|over\s+(?:time|the\s+years)|since|evolution\s+of|"
    r"how\s+(?:did|has|have|had|does|do)\b[^?.!]*?\b(?:evolv|develop|chang|progress|unfold|shift|grow|grew|spread)\w*)"
)
_MODIFIER_RE = re.compile(rf"^{_MODIFIER}", re.IGNORECASE)


@dataclass(frozen=True)
class TimeFrame:
    """What a question says about time. The window is inclusive on published dates; None is open."""

    start: date | None
    end: date | None
    recency: bool  # "latest", "recently", "now": prefer newer articles
    chronological: bool  # "how did X evolve", "timeline of", "since": list answer sentences by date
    expression: str | None  # the matched words, e.g. "last month"
    future: str | None = None  # a time cue naming only dates after "as of" ("plans for 2024"): kept as words

    @property
    def has_window(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def literal(self) -> bool:
        """The cue names a calendar date ("in 2004", "June 2020"): words an article may contain too,
        unlike "last week"."""
        return bool(self.expression and re.search(r"\d|" + "|".join(_MONTH_NAMES), self.expression, re.IGNORECASE))

    @property
    def unresolved(self) -> bool:
        """A time cue we could not date, e.g. "before the ban"."""
        return (self.expression is not None and not self.has_window
                and _RECENCY_RE.fullmatch(self.expression) is None)

    def iso_range(self) -> tuple[str | None, str | None]:
        """(date_from, date_to) as ISO strings, the form `Filters` takes."""
        return (self.start.isoformat() if self.start else None, self.end.isoformat() if self.end else None)

    def describe(self) -> str:
        """One line for the UI, e.g. "Searching articles from June 2020"; "" when there is no time cue."""
        if self.has_window:
            text = "Searching articles " + _describe_window(self.start, self.end)
            if self.recency:
                text += ", preferring recent ones"
        elif self.unresolved:
            text = f"Could not date \u201c{self.expression}\u201d, so searching all dates"
        elif self.recency:
            text = "Preferring recent articles"
        elif self.future:
            text = f"\u201c{self.future}\u201d is after the as-of date, so it is searched as words, not as dates"
        else:
            text = ""
        if self.chronological:
            text = f"{text}; listing answer sentences by date" if text else "Listing answer sentences by date"
        return text


@lru_cache(maxsize=256)  # the engine reads one question twice (conversation hooks, then the search)
def parse_timeframe(question: str, as_of: date) -> TimeFrame:
    """Find the question's time cue and resolve it against `as_of`. The earliest, then longest, datable
    span wins; an undatable event phrase ("before the ban") is kept as the expression without a window."""
    found: list[tuple[int, int, date | None, date | None]] = []
    for match in _RANGE_RE.finditer(question):
        if window := _safely(_resolve_range, match.group("a"), match.group("b"), as_of):
            found.append((match.start(), match.end(), *window))
    for match in _ROLLING_RE.finditer(question):
        if window := _safely(_resolve_rolling, match, as_of):
            found.append((match.start(), match.end(), *window))
    for match in _PREP_POINT_RE.finditer(question):
        if window := _safely(_resolve_point, match.group("point"), as_of):
            prep = "since" if match.group("onwards") else match.group("prep")
            found.append((match.start(), match.end(), *_apply_preposition(prep, match.group("point"), window)))
    for match in _POINT_RE.finditer(question):
        if window := _safely(_resolve_point, match.group("point"), as_of):
            found.append((match.start(), match.end(), *window))

    recency = _RECENCY_RE.search(question)
    chronological = _CHRONOLOGICAL_RE.search(question) is not None
    if found:
        begin, finish, start, end = min(found, key=lambda f: (f[0], -f[1]))
        return TimeFrame(start, end, recency is not None, chronological, question[begin:finish])
    if event := _EVENT_RE.search(question):
        return TimeFrame(None, None, recency is not None, chronological, event.group(0))
    return TimeFrame(None, None, recency is not None, chronological, recency.group(0) if recency else None)


def _safely(resolve, *args):
    """A window, or None where resolving it would leave the calendar ("today" as of 9999-12-31 ends on
    a day that does not exist): the engine keeps as-of dates in 1900..2100, other callers get no window."""
    try:
        return resolve(*args)
    except (OverflowError, ValueError):
        return None


def anchor_to(frame: TimeFrame, as_of: date) -> TimeFrame:
    """Nothing is published after the date a question is asked: a window reaching past `as_of` ends
    there, and one lying wholly after it names a future event ("which supermarkets plan to merge in
    2024?"), so it is no publication window at all and its words stay in the query."""
    if frame.start is not None and frame.start > as_of:
        return replace(frame, start=None, end=None, expression=None, future=frame.expression)
    if frame.end is not None and frame.end > as_of:
        return replace(frame, end=as_of)
    return frame


def strip_expression(question: str, frame: TimeFrame) -> str:
    """The question without its time words (and recency words), for keyword search."""
    text = question
    if frame.expression:
        text = re.sub(rf"(?<!\w){re.escape(frame.expression)}(?!\w)", " ", text, count=1, flags=re.IGNORECASE)
    if frame.recency:
        text = _RECENCY_RE.sub(" ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([?.!,;:])", r"\1", text)
    text = re.sub(r",(?=[?.!])", "", text)
    return text.strip(" ,;:")


# --- resolution -------------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _parser(base: date) -> DateDataParser:
    settings = {"RELATIVE_BASE": datetime(base.year, base.month, base.day), "PREFER_DATES_FROM": "past"}
    return DateDataParser(languages=["en"], settings=settings)


def _parse(text: str, base: date) -> tuple[date, str] | None:
    data = _parser(base).get_date_data(text)
    return (data.date_obj.date(), data.period or "day") if data.date_obj else None


def _resolve_point(text: str, base: date) -> tuple[date, date] | None:
    """A date span → the window it names: a day ±1 (time zones), the week before a day, a whole month or year."""
    text = " ".join(text.split())
    modifier = _MODIFIER_RE.match(text)
    core = text[modifier.end():] if modifier else text
    if core.lower().startswith("the "):
        core = core[4:]
    core = re.sub(r"(?i)\bprevious\b", "last", core)
    if decade := re.fullmatch(r"((?:19|20)\d0)s", core):
        first = int(decade.group(1))
        window = (date(first, 1, 1), date(first + 9, 12, 31))
    else:
        parsed = _parse(core, base)
        if parsed is None:
            return None
        day, period = parsed
        if period == "year":
            window = (date(day.year, 1, 1), date(day.year, 12, 31))
        elif period == "month":
            window = (day.replace(day=1), _month_end(day))
        elif period == "week":
            window = (day - timedelta(days=7), day + timedelta(days=1))
        else:
            window = (day - timedelta(days=1), day + timedelta(days=1))
    return _narrow(window, modifier.group(0).lower() if modifier else "")


def _narrow(window: tuple[date, date], modifier: str) -> tuple[date, date]:
    """"early/mid/late 2020" (or "the start/middle/end of") → Jan-Apr, May-Aug, Sep-Dec; of a month →
    days 1-10, 11-20, 21-end."""
    if not modifier:
        return window
    start, end = window
    part = 0 if re.search(r"early|start|beginning", modifier) else 1 if re.search(r"mid", modifier) else 2
    if start.month != end.month:  # a year
        first = start.replace(month=1 + 4 * part)
        return first, _month_end(start.replace(month=4 + 4 * part))
    return start.replace(day=1 + 10 * part), end if part == 2 else start.replace(day=10 + 10 * part)


def _apply_preposition(prep: str, point: str, window: tuple[date, date]) -> tuple[date | None, date | None]:
    kind = _PREPOSITIONS[" ".join(prep.lower().split())]
    start, end = window
    if kind == "since":
        return start, None
    if kind == "after":
        return end + timedelta(days=1), None
    if kind == "before":
        # "before the end of 2020" means up to the end, not before the last third begins.
        return None, end if re.match(r"the\s+end\b", point, re.IGNORECASE) else start - timedelta(days=1)
    if kind == "until":
        return None, end
    return start, end


def _resolve_range(first: str, second: str, as_of: date) -> tuple[date, date] | None:
    """"between June and August 2020": the second point is resolved first and anchors the first."""
    last = _resolve_point(second, as_of)
    if last is None:
        return None
    begin = _resolve_point(first, min(last[1], as_of))
    if begin is None or begin[0] > last[1]:
        return None
    return begin[0], last[1]


def _resolve_rolling(match: re.Match[str], as_of: date) -> tuple[date, date] | None:
    """"in the past 3 days", "over the last decade": from that long ago up to as_of + 1 day.
    A bare "last week/month/year" is the calendar period instead and is left to `_resolve_point`."""
    unit, count = match.group("unit").lower(), match.group("n")
    if (not match.group("the") and match.group("which").lower() != "past" and count is None
            and unit != "decade"):
        return None
    parsed = _parse(f"{count or 1} {unit}s ago", as_of)
    if parsed is None:
        return None
    return parsed[0], as_of + timedelta(days=1)


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


# --- describe() ---------------------------------------------------------------------------------------

def _describe_window(start: date | None, end: date | None) -> str:
    if start and end:
        return "from " + _describe_span(start, end)
    if start:
        if start.month == 1 and start.day == 1:
            return f"since {start.year}"
        return f"since {_MONTH_NAMES[start.month - 1]} {start.year}" if start.day == 1 else f"since {_day(start)}"
    assert end is not None
    if end.month == 12 and end.day == 31:
        return f"up to the end of {end.year}"
    if end == _month_end(end):
        return f"up to the end of {_MONTH_NAMES[end.month - 1]} {end.year}"
    return f"up to {_day(end)}"


def _describe_span(start: date, end: date) -> str:
    whole_months = start.day == 1 and end == _month_end(end)
    if whole_months and start.month == 1 and end.month == 12:
        return str(start.year) if start.year == end.year else f"{start.year} to {end.year}"
    if whole_months:
        if (start.year, start.month) == (end.year, end.month):
            return f"{_MONTH_NAMES[start.month - 1]} {start.year}"
        if start.year == end.year:
            return f"{_MONTH_NAMES[start.month - 1]} to {_MONTH_NAMES[end.month - 1]} {end.year}"
        return f"{_MONTH_NAMES[start.month - 1]} {start.year} to {_MONTH_NAMES[end.month - 1]} {end.year}"
    if start == end:
        return _day(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} to {_day(end)}"
    if start.year == end.year:
        return f"{start.day} {_MONTH_NAMES[start.month - 1]} to {_day(end)}"
    return f"{_day(start)} to {_day(end)}"


def _day(day: date) -> str:
    return f"{day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"
