"""Time cues → date windows, against a fixed "as of" date (Thursday 16 June 2022)."""

from datetime import date

import pytest

from assistant.timeframe import TimeFrame, parse_timeframe, strip_expression

AS_OF = date(2022, 6, 16)
D = date


@pytest.mark.parametrize(("question", "start", "end", "expression"), [
    ("What happened today?", D(2022, 6, 15), D(2022, 6, 17), "today"),
    ("What did the mayor say yesterday?", D(2022, 6, 14), D(2022, 6, 16), "yesterday"),
    ("What did Congress decide this week?", D(2022, 6, 9), D(2022, 6, 17), "this week"),
    ("What did Congress decide last week?", D(2022, 6, 2), D(2022, 6, 10), "last week"),
    ("Which bills passed this month?", D(2022, 6, 1), D(2022, 6, 30), "this month"),
    ("What did Amazon announce last month?", D(2022, 5, 1), D(2022, 5, 31), "last month"),
    ("What did Amazon announce previous month?", D(2022, 5, 1), D(2022, 5, 31), "previous month"),
    ("Which cities banned it this year?", D(2022, 1, 1), D(2022, 12, 31), "this year"),
    ("Which cities banned it last year?", D(2021, 1, 1), D(2021, 12, 31), "last year"),
    ("Which laws passed in 2019?", D(2019, 1, 1), D(2019, 12, 31), "in 2019"),
    ("In 2019, which cities banned it?", D(2019, 1, 1), D(2019, 12, 31), "In 2019"),
    ("What happened in June 2020?", D(2020, 6, 1), D(2020, 6, 30), "in June 2020"),
    ("June 2020: what did IBM do?", D(2020, 6, 1), D(2020, 6, 30), "June 2020"),
    ("What happened in june of 2020?", D(2020, 6, 1), D(2020, 6, 30), "in june of 2020"),
    ("What happened in Sept. 2020?", D(2020, 9, 1), D(2020, 9, 30), "in Sept. 2020"),
    ("What did IBM say on June 8, 2020?", D(2020, 6, 7), D(2020, 6, 9), "on June 8, 2020"),
    ("What did IBM say on 8 June 2020?", D(2020, 6, 7), D(2020, 6, 9), "on 8 June 2020"),
    ("What did IBM write on the 8th of June 2020?", D(2020, 6, 7), D(2020, 6, 9), "on the 8th of June 2020"),
    ("What was reported on 2020-06-08?", D(2020, 6, 7), D(2020, 6, 9), "on 2020-06-08"),
    ("What happened on June 8?", D(2022, 6, 7), D(2022, 6, 9), "on June 8"),
    ("What happened in the past 3 days?", D(2022, 6, 13), D(2022, 6, 17), "in the past 3 days"),
    ("What happened in the last two weeks?", D(2022, 6, 2), D(2022, 6, 17), "in the last two weeks"),
    ("Which bans passed in the past 6 months?", D(2021, 12, 16), D(2022, 6, 17), "in the past 6 months"),
    ("What happened in the past year?", D(2021, 6, 16), D(2022, 6, 17), "in the past year"),
    ("What happened in the last week?", D(2022, 6, 9), D(2022, 6, 17), "in the last week"),
    ("How did it change over the last decade?", D(2012, 6, 16), D(2022, 6, 17), "over the last decade"),
    ("Who was arrested 3 days ago?", D(2022, 6, 12), D(2022, 6, 14), "3 days ago"),
    ("What was announced two weeks ago?", D(2022, 5, 26), D(2022, 6, 3), "two weeks ago"),
    ("What happened 2 months ago?", D(2022, 4, 1), D(2022, 4, 30), "2 months ago"),
    ("What happened a year ago?", D(2021, 1, 1), D(2021, 12, 31), "a year ago"),
    ("What happened in June?", D(2022, 6, 1), D(2022, 6, 30), "in June"),
    ("What happened in December?", D(2021, 12, 1), D(2021, 12, 31), "in December"),  # the past December
    ("What happened in May?", D(2022, 5, 1), D(2022, 5, 31), "in May"),
    ("What happened on Monday?", D(2022, 6, 12), D(2022, 6, 14), "on Monday"),
    ("What happened in the 1990s?", D(1990, 1, 1), D(1999, 12, 31), "in the 1990s"),
    ("What happened in early 2020?", D(2020, 1, 1), D(2020, 4, 30), "in early 2020"),
    ("What happened in mid-2020?", D(2020, 5, 1), D(2020, 8, 31), "in mid-2020"),
    ("What happened at the end of 2020?", D(2020, 9, 1), D(2020, 12, 31), "at the end of 2020"),
    ("What happened in late June 2020?", D(2020, 6, 21), D(2020, 6, 30), "in late June 2020"),
    ("What changed between 2019 and 2021?", D(2019, 1, 1), D(2021, 12, 31), "between 2019 and 2021"),
    ("What happened from March to May 2021?", D(2021, 3, 1), D(2021, 5, 31), "from March to May 2021"),
    ("Rallies between December and February 2021?", D(2020, 12, 1), D(2021, 2, 28),
     "between December and February 2021"),
    ("Which cities banned it since March 2021?", D(2021, 3, 1), None, "since March 2021"),
    ("Which cities banned it since the start of 2020?", D(2020, 1, 1), None, "since the start of 2020"),
    ("What has happened since last year?", D(2021, 1, 1), None, "since last year"),
    ("What happened from 2019 onwards?", D(2019, 1, 1), None, "from 2019 onwards"),
    ("What happened after June 2020?", D(2020, 7, 1), None, "after June 2020"),
    ("Was it legal before 2021?", None, D(2020, 12, 31), "before 2021"),
    ("Was it legal before the end of 2020?", None, D(2020, 12, 31), "before the end of 2020"),
    ("How many cities had banned it by 2021?", None, D(2021, 12, 31), "by 2021"),
])
def test_windows(question, start, end, expression):
    frame = parse_timeframe(question, AS_OF)
    assert (frame.start, frame.end, frame.expression) == (start, end, expression)


def test_the_calendar_follows_as_of():
    jan31 = date(2022, 1, 31)
    frame = parse_timeframe("What happened last month?", jan31)
    assert (frame.start, frame.end) == (D(2021, 12, 1), D(2021, 12, 31))
    frame = parse_timeframe("What happened in February 2020?", jan31)
    assert (frame.start, frame.end) == (D(2020, 2, 1), D(2020, 2, 29))
    frame = parse_timeframe("What happened in the past month?", jan31)
    assert (frame.start, frame.end) == (D(2021, 12, 31), D(2022, 2, 1))


@pytest.mark.parametrize("question", [
    "Why were 28 members of Congress falsely matched?",
    "Was the fine $5 or $2020?",
    "Did error rates rise to 34.7% or 2020%?",
    "What does Section 230 say?",
    "What were the COVID-19 rules?",
    "How did COVID-19 March rules differ?",
    "May police use facial recognition?",
    "Police may use it in may, right?",
    "Why did protesters march on Washington?",
    "Will Amazon extend the moratorium?",
    "Who is Jan Koum?",
    "What did Black Friday sales show?",
    "Did the 2019-20 season end?",
    "Who paid 1,999 dollars?",
])
def test_false_positives(question):
    assert parse_timeframe(question, AS_OF) == TimeFrame(None, None, False, False, None)


def test_lower_case_month_next_to_a_year_is_a_month():
    frame = parse_timeframe("Why did the march 2020 protests start?", AS_OF)
    assert (frame.start, frame.end, frame.expression) == (D(2020, 3, 1), D(2020, 3, 31), "march 2020")


@pytest.mark.parametrize(("question", "expression"), [
    ("What did police do before the ban?", "before the ban"),
    ("What changed after the 2020 election?", "after the 2020 election"),
    ("What happened after the Boston ban?", "after the Boston ban"),
])
def test_event_relative_phrases_keep_the_words_but_invent_no_date(question, expression):
    frame = parse_timeframe(question, AS_OF)
    assert (frame.start, frame.end, frame.expression) == (None, None, expression)
    assert frame.unresolved


def test_a_datable_span_beats_an_event_phrase():
    frame = parse_timeframe("What happened after the ban in 2020?", AS_OF)
    assert (frame.start, frame.end, frame.expression) == (D(2020, 1, 1), D(2020, 12, 31), "in 2020")


@pytest.mark.parametrize(("question", "word"), [
    ("What's the latest on Clearview?", "latest"),
    ("What happened recently with Rekognition?", "recently"),
    ("What is the most recent ruling?", "most recent"),
    ("Which is the newest law?", "newest"),
    ("What is the current status of the moratorium?", "current status"),
    ("Is it banned now?", "now"),
])
def test_recency_words_prefer_new_articles_without_a_window(question, word):
    assert parse_timeframe(question, AS_OF) == TimeFrame(None, None, True, False, word)


def test_recency_with_a_window_keeps_the_window():
    frame = parse_timeframe("What is the latest news from June 2020?", AS_OF)
    assert frame == TimeFrame(D(2020, 6, 1), D(2020, 6, 30), True, False, "from June 2020")


@pytest.mark.parametrize("question", [
    "How did the moratorium evolve?",
    "How has police use of facial recognition changed?",
    "Give me a timeline of the Clearview case.",
    "What is the history of facial recognition bans?",
    "How did support shift over time?",
])
def test_chronological_questions_without_dates(question):
    assert parse_timeframe(question, AS_OF) == TimeFrame(None, None, False, True, None)


def test_since_is_chronological():
    frame = parse_timeframe("What has happened since the pandemic?", AS_OF)
    assert frame == TimeFrame(None, None, False, True, "since the pandemic")


@pytest.mark.parametrize(("question", "text"), [
    ("What did Congress decide this week?", "Searching articles from 9 to 17 June 2022"),
    ("What happened in June 2020?", "Searching articles from June 2020"),
    ("Which laws passed in 2019?", "Searching articles from 2019"),
    ("What changed between 2019 and 2021?", "Searching articles from 2019 to 2021"),
    ("What happened from March to May 2021?", "Searching articles from March to May 2021"),
    ("Protests between December and February 2021?", "Searching articles from December 2020 to February 2021"),
    ("What happened over the past 30 days?", "Searching articles from 17 May to 17 June 2022"),
    ("How did it change over the last decade?",
     "Searching articles from 16 June 2012 to 17 June 2022; listing answer sentences by date"),
    ("What happened after June 2020?", "Searching articles since July 2020"),
    ("What happened since June 8, 2020?", "Searching articles since 7 June 2020; listing answer sentences by date"),
    ("What happened after 2020?", "Searching articles since 2021"),
    ("Was it legal before 2021?", "Searching articles up to the end of 2020"),
    ("Was it legal before June 2020?", "Searching articles up to the end of May 2020"),
    ("Was it legal before June 8, 2020?", "Searching articles up to 6 June 2020"),
    ("What is the latest on Clearview?", "Preferring recent articles"),
    ("What is the latest news from June 2020?", "Searching articles from June 2020, preferring recent ones"),
    ("What did police do before the ban?", "Could not date \u201cbefore the ban\u201d, so searching all dates"),
    ("How did the moratorium evolve?", "Listing answer sentences by date"),
    ("Who makes Rekognition?", ""),
])
def test_describe(question, text):
    assert parse_timeframe(question, AS_OF).describe() == text


def test_iso_range_fits_filters():
    assert parse_timeframe("What happened in June 2020?", AS_OF).iso_range() == ("2020-06-01", "2020-06-30")
    assert parse_timeframe("Who makes Rekognition?", AS_OF).iso_range() == (None, None)


@pytest.mark.parametrize(("question", "stripped"), [
    ("What did Amazon announce last month?", "What did Amazon announce?"),
    ("In 2019, which cities banned facial recognition?", "which cities banned facial recognition?"),
    ("Which cities banned it since March 2021?", "Which cities banned it?"),
    ("What did police do before the ban?", "What did police do?"),
    ("What is the most recent ruling on Clearview?", "What is the ruling on Clearview?"),
    ("What is the latest news from June 2020?", "What is the news?"),
    ("Do we know if it is banned now?", "Do we know if it is banned?"),
    ("Who makes Rekognition?", "Who makes Rekognition?"),
])
def test_strip_expression(question, stripped):
    assert strip_expression(question, parse_timeframe(question, AS_OF)) == stripped


@pytest.mark.parametrize("question", [
    "What will IBM's image technology be restricted to now that it has dropped face recognition?",
    "Which recent Turing Award winner signed the open letter?",
])
def test_adjective_recent_and_conjunction_now_are_not_recency_cues(question):
    assert not parse_timeframe(question, AS_OF).recency


def test_anchor_to_as_of_ends_windows_at_as_of_and_drops_future_ones():
    from assistant.timeframe import anchor_to

    as_of = date(2022, 10, 20)
    week = anchor_to(parse_timeframe("Who resigned this week?", as_of), as_of)
    assert week.iso_range() == ("2022-10-13", "2022-10-20")
    future = anchor_to(parse_timeframe("Which chains plan to merge in 2024?", as_of), as_of)
    assert not future.has_window and future.expression is None and future.future == "in 2024"
    assert strip_expression("Which chains plan to merge in 2024?", future) == "Which chains plan to merge in 2024?"
    assert "after the as-of date" in future.describe()
    past = parse_timeframe("What happened in June 2020?", as_of)
    assert anchor_to(past, as_of) == past


@pytest.mark.parametrize(("question", "literal"), [
    ("How did exports do in 2004?", True),
    ("What did IBM announce in June 2020?", True),
    ("What happened last week?", False),
    ("What did the council decide yesterday?", False),
])
def test_calendar_dates_are_literal_words_relative_ones_are_not(question, literal):
    assert parse_timeframe(question, AS_OF).literal is literal
