"""The declared dev/test splits (eval/data/README.md): constants and models are fit on dev only; test
is scored once per change and never used to choose.

A question's split is its record's "split" field when it has one (the BBC files in eval/data);
otherwise the rule of its dataset: RealTime QA by week (the first half of the sorted weeks are dev, the
last 11 test), the demo questions by the parity of their number (odd: dev)."""

from __future__ import annotations

import re

PARTS = ("all", "dev", "test")
_NUMBER = re.compile(r"(\d+)$")
_WEEK = re.compile(r"^(\d{8})_\d+$")


def assign_splits(records: list[dict]) -> dict[str, str | None]:
    """question id -> "dev" / "test" (None when no rule applies)."""
    weeks = sorted({m.group(1) for r in records if (m := _WEEK.match(str(r.get("id", ""))))})
    dev_weeks = set(weeks[: len(weeks) // 2])
    out: dict[str, str | None] = {}
    for record in records:
        qid = str(record.get("id", ""))
        declared = record.get("split")
        if declared in ("dev", "test"):
            out[qid] = declared
        elif week := _WEEK.match(qid):
            out[qid] = "dev" if week.group(1) in dev_weeks else "test"
        elif number := _NUMBER.search(qid):
            out[qid] = "dev" if int(number.group(1)) % 2 else "test"
        else:
            out[qid] = None
    return out
