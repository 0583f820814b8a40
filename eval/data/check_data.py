#!/usr/bin/env python3
"""Validate the evaluation files in eval/data against the BBC and demo corpora.

Checks: ids unique; every evidence text is a substring of the named article's body;
every answer is a substring of its evidence text; splits present (field or rule);
near misses have answer null, no evidence and an existing topic_article_id.
Prints one line per problem; exit status 1 if any. Standard library only.

Usage: python3 eval/data/check_data.py [--bbc PATH]
"""
import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEMO_DIR = os.path.join(REPO, "index", "demo_corpus")
BBC_CANDIDATES = [
    os.path.join(REPO, "..", "shared", "datasets", "bbc_news", "articles.jsonl"),
    os.path.join(REPO, "shared", "datasets", "bbc_news", "articles.jsonl"),
]
problems = []


def problem(msg):
    problems.append(msg)
    print(msg)


def load_bbc(path):
    arts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            arts[a["id"]] = a["body"]
    return arts


def load_demo():
    arts = {}
    for p in sorted(glob.glob(os.path.join(DEMO_DIR, "*.md"))):
        with open(p, encoding="utf-8") as handle:
            text = handle.read()
        if not text.startswith("---"):
            continue
        _, fm, body = text.split("---", 2)
        meta = {}
        for line in fm.strip().splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                meta[k.strip()] = v.strip()
        if "id" in meta:
            arts[meta["id"]] = (body.strip(), meta.get("published_at"))
    return arts


def read_jsonl(name):
    path = os.path.join(HERE, name)
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                problem(f"{name}:{i}: bad JSON: {e}")
    return rows


def check_evidence(where, item, bodies):
    ev = item.get("evidence")
    ans = item.get("answer")
    if not isinstance(ev, list):
        problem(f"{where}: evidence is not a list")
        return
    if ans is None:
        if ev:
            problem(f"{where}: unanswerable item has evidence")
        return
    if not ev:
        problem(f"{where}: answerable item has no evidence")
    for e in ev:
        aid, text = e.get("article_id"), e.get("text", "")
        if aid not in bodies:
            problem(f"{where}: unknown article_id {aid!r}")
            continue
        if text not in bodies[aid]:
            problem(f"{where}: evidence text not in body of {aid}: {text[:60]!r}")
    if ev and not any(ans in e.get("text", "") for e in ev):
        problem(f"{where}: answer {ans!r} not in any evidence text")


def check_ids(name, rows):
    seen = set()
    for r in rows:
        i = r.get("id")
        if not i:
            problem(f"{name}: row without id")
        elif i in seen:
            problem(f"{name}: duplicate id {i}")
        seen.add(i)


def check_split_field(name, rows):
    for r in rows:
        if r.get("split") not in ("dev", "test"):
            problem(f"{name}: {r.get('id')}: split missing or not dev/test")
    n = {s: sum(r.get("split") == s for r in rows) for s in ("dev", "test")}
    if not n["dev"] or not n["test"]:
        problem(f"{name}: a split is empty {n}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bbc", help="path to bbc_news/articles.jsonl")
    args = ap.parse_args()
    bbc_path = args.bbc or next((p for p in BBC_CANDIDATES if os.path.exists(p)), None)
    if not bbc_path:
        print("BBC corpus not found; pass --bbc PATH")
        return 1
    bbc = load_bbc(bbc_path)
    demo_full = load_demo()
    demo = {k: v[0] for k, v in demo_full.items()}

    # bbc_questions.jsonl: split by rule (odd number = dev, even = test)
    rows = read_jsonl("bbc_questions.jsonl")
    check_ids("bbc_questions.jsonl", rows)
    for r in rows:
        check_evidence(f"bbc_questions.jsonl: {r.get('id')}", r, bbc)
        if not r.get("id", "").rsplit("-", 1)[-1].isdigit():
            problem(f"bbc_questions.jsonl: {r.get('id')}: id has no number for the odd/even split rule")

    # demo_questions.jsonl: split by rule (odd number = dev, even = test)
    rows = read_jsonl("demo_questions.jsonl")
    check_ids("demo_questions.jsonl", rows)
    for r in rows:
        check_evidence(f"demo_questions.jsonl: {r.get('id')}", r, demo)
        num = r.get("id", "").rsplit("-", 1)[-1].lstrip("u")
        if not num.isdigit():
            problem(f"demo_questions.jsonl: {r.get('id')}: id has no number for the odd/even split rule")
        if not r.get("question_date"):
            problem(f"demo_questions.jsonl: {r.get('id')}: no question_date")

    # bbc_questions_2.jsonl
    name = "bbc_questions_2.jsonl"
    rows = read_jsonl(name)
    check_ids(name, rows)
    check_split_field(name, rows)
    for r in rows:
        check_evidence(f"{name}: {r.get('id')}", r, bbc)
        if r.get("answer") is None:
            problem(f"{name}: {r.get('id')}: answer is null")

    # bbc_near_miss.jsonl
    name = "bbc_near_miss.jsonl"
    rows = read_jsonl(name)
    check_ids(name, rows)
    check_split_field(name, rows)
    for r in rows:
        w = f"{name}: {r.get('id')}"
        if r.get("answer") is not None:
            problem(f"{w}: answer should be null")
        if r.get("evidence"):
            problem(f"{w}: evidence should be empty")
        if r.get("type") != "unanswerable":
            problem(f"{w}: type should be 'unanswerable'")
        if r.get("topic_article_id") not in bbc:
            problem(f"{w}: topic_article_id {r.get('topic_article_id')!r} not in BBC corpus")
        if not r.get("why_unanswerable"):
            problem(f"{w}: why_unanswerable missing")

    # conversations.jsonl
    name = "conversations.jsonl"
    rows = read_jsonl(name)
    check_ids(name, rows)
    check_split_field(name, rows)
    kinds = {"first", "pronoun", "definite", "ellipsis", "topic_shift", "back_reference", "standalone"}
    for c in rows:
        corpus = c.get("corpus")
        bodies = bbc if corpus == "bbc" else demo if corpus == "demo" else None
        if bodies is None:
            problem(f"{name}: {c.get('id')}: corpus must be bbc or demo")
            continue
        turns = c.get("turns") or []
        if not 2 <= len(turns) <= 4:
            problem(f"{name}: {c.get('id')}: {len(turns)} turns (want 2-4)")
        for j, t in enumerate(turns, 1):
            w = f"{name}: {c.get('id')} turn {j}"
            check_evidence(w, t, bodies)
            if t.get("kind") not in kinds:
                problem(f"{w}: unknown kind {t.get('kind')!r}")
            if (j == 1) != (t.get("kind") == "first"):
                problem(f"{w}: kind 'first' must be used exactly on turn 1")
            if corpus == "demo":
                qd = t.get("question_date")
                if not qd:
                    problem(f"{w}: demo turn without question_date")
                for e in t.get("evidence", []):
                    pub = demo_full.get(e.get("article_id"), (None, None))[1]
                    if qd and pub and qd < pub:
                        problem(f"{w}: question_date {qd} before article date {pub}")
    for corpus in ("bbc", "demo"):
        n = {s: sum(1 for c in rows if c.get("corpus") == corpus and c.get("split") == s) for s in ("dev", "test")}
        if n["dev"] != n["test"]:
            problem(f"{name}: {corpus} conversations not split half/half {n}")

    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    print("eval/data: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
