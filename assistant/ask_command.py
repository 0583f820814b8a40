"""`assistant ask`: print a cited answer and its numbered sources, or the full result as JSON."""

from __future__ import annotations

import json
import sys
import textwrap


def register(command) -> None:
    p = command("ask", "Answer a question from the indexed articles, with citations.",
                "assistant.ask_command:run")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="passages to retrieve and summarise (default 5)")
    p.add_argument("--mode", choices=("hybrid", "dense", "keyword"), default="hybrid")
    p.add_argument("--sentences", type=int, default=3, help="answer length in sentences (default 3)")
    p.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    p.add_argument("--article", action="append", default=[], help="only this article id (repeatable)")
    p.add_argument("--from", dest="date_from", help="only articles published on or after YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", help="only articles published on or before YYYY-MM-DD")
    p.add_argument("--as-of", dest="as_of", default=None,
                   help="the date the question is asked at, YYYY-MM-DD (default: today, or the newest "
                        "article's date for an archive); 'this week' and 'last month' are read against it")
    p.add_argument("--no-time", dest="time_aware", action="store_false",
                   help="ignore dates: no window from the question's time words, no recency preference")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")


def run(args) -> int:
    from assistant.commands import encoder_for, resolve_index
    from assistant.engine import Assistant
    from assistant.errors import UserError
    from assistant.options import AskOptions
    from assistant.results import Filters

    filters = Filters(tuple(args.source), tuple(args.article), args.date_from, args.date_to)
    as_of = _iso_date(args.as_of, "--as-of") if args.as_of else None
    for value, flag in ((args.date_from, "--from"), (args.date_to, "--to")):
        if value:
            _iso_date(value, flag)
    try:
        options = AskOptions(filters=filters, k=args.k, mode=args.mode, max_sentences=args.sentences,
                             as_of=as_of, time_aware=args.time_aware)
    except ValueError as err:
        raise UserError(str(err)) from None
    assistant = Assistant.load(resolve_index(args), encoder=encoder_for(args))
    try:
        answer = assistant.ask(args.question, options=options)
    except ValueError as err:
        raise UserError(str(err)) from None
    if args.json:
        json.dump(answer.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(format_answer(answer))
    return 0


def _iso_date(value: str, flag: str):
    from datetime import date

    from assistant.errors import UserError

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag} {value!r}: expected a date as YYYY-MM-DD") from None


def format_answer(answer) -> str:
    if getattr(answer, "kind", "answer") == "briefing":  # one story a line, under the window it covers
        lines = ([answer.time_note, ""] if answer.time_note else []) + [
            textwrap.fill(line, width=100, subsequent_indent="    ") for line in answer.text.splitlines()] + [""]
    else:
        lines = [textwrap.fill(answer.text, width=100), ""]
    if answer.note:
        lines += [f"({answer.note})", ""]
    time_line = f"as of {answer.as_of}" + (f"; {answer.time_note} (--no-time to search all dates)"
                                           if answer.time_note else "")
    lines += [f"({time_line})", ""]
    if answer.abstained:
        shown = [(i + 1, p, ()) for i, p in enumerate(answer.passages[:3])]
        lines.append("Closest passages:")
    else:
        shown = [(c.number, c.passage, c.highlights) for c in answer.cited]
        lines.append("Sources:")
    for number, passage, _ in shown:
        meta = ", ".join(x for x in (passage.source, passage.published_at) if x)
        lines.append(f"[{number}] {passage.title}" + (f" ({meta})" if meta else "") + f"  id={passage.article_id}")
        if passage.also_reported_by:
            lines.append(f"    also reported by: {', '.join(passage.also_reported_by)}")
        if passage.url:
            lines.append(f"    {passage.url}")
        lines.append(textwrap.indent(textwrap.fill(passage.text, width=96), "    "))
    return "\n".join(lines)
