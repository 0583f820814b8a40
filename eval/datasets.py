"""Evaluation datasets of different origins → one shape (questions, gold articles, qrels).

Three sources: news-quiz questions with gold articles (RealTime QA format), BEIR folders (corpus,
queries, qrels) and synthetic known-item questions drawn from the user's own articles, so the same
runner and metrics work for all of them.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

KINDS = ("questions", "beir", "synthetic")
SYNTHETIC_PREFIX = "synthetic-"
MIN_SENTENCE_WORDS = 8
MAX_SENTENCE_WORDS = 40


class DatasetError(Exception):
    """A dataset file cannot be used; the message is one line naming the file (and line) and the problem."""

    def __init__(self, where: Path | str, problem: str, line: int | None = None):
        self.where = str(where)
        self.line = line
        self.problem = problem
        super().__init__(f"{where}:{line}: {problem}" if line is not None else f"{where}: {problem}")


@dataclass(frozen=True)
class Evidence:
    """A gold article and, when known, the sentence in it that supports the answer."""

    article_id: str
    text: str | None = None


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answer: str | None
    evidence: tuple[Evidence, ...]
    unanswerable: bool = False
    date: str | None = None  # ISO date the question is asked at ("this week" refers to it)
    split: str | None = None  # "dev" or "test" (eval/splits.py); None where no split is declared


@dataclass(frozen=True)
class Dataset:
    """Questions plus relevance judgements; only questions with an entry in `qrels` are scored for retrieval."""

    name: str
    questions: tuple[Question, ...]
    articles_path: Path | None  # articles JSONL or BEIR corpus.jsonl; None when the articles are already indexed
    qrels: dict[str, dict[str, int]]  # question id -> {article id: relevance}, relevance > 0 means relevant
    kind: str  # one of KINDS
    synthetic: bool = False
    dropped: int = 0  # questions left out: no gold article and not marked unanswerable


# --- RealTime QA style questions -------------------------------------------------------------------------------


def load_questions(path: Path | str, articles: Path | str | None = None, part: str = "all") -> Dataset:
    """Questions JSONL (id, question, answer, evidence[{article_id, text}], question_date or date).

    A question without evidence is kept as unanswerable only when it says `"type": "unanswerable"`;
    any other question without evidence cannot be judged for retrieval, so it is dropped and counted.
    The articles default to `articles.jsonl` beside the questions file (None when that file is absent).
    `part` keeps only the declared dev or test split (eval/splits.py), or "all".
    """
    from eval.splits import PARTS, assign_splits

    if part not in PARTS:
        raise DatasetError(path, f"unknown part {part!r} (use {', '.join(PARTS)})")
    path = Path(path)
    if articles is None:
        beside = path.with_name("articles.jsonl")
        articles_path = beside if beside.is_file() else None
    else:
        articles_path = Path(articles)
        if not articles_path.is_file():
            raise DatasetError(articles_path, "articles file not found")
    questions: list[Question] = []
    qrels: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    dropped = 0
    records = list(_read_jsonl(path))
    splits = assign_splits([record for _, record in records])
    for line_no, record in records:
        question = replace(_parse_question(record, path, line_no), split=splits.get(str(record.get("id"))))
        if part != "all" and question.split != part:
            continue
        if question.id in seen:
            raise DatasetError(path, f"duplicate question id {question.id!r}", line_no)
        seen.add(question.id)
        if not question.evidence and not question.unanswerable:
            dropped += 1
            continue
        questions.append(question)
        if question.evidence:
            qrels[question.id] = {ev.article_id: 1 for ev in question.evidence}
    if not questions:
        raise DatasetError(path, "no usable questions (none has evidence or is marked unanswerable)"
                           + (f" in the {part} part" if part != "all" else ""))
    name = path.parent.name if path.name == "questions.jsonl" else path.stem
    name = name if part == "all" else f"{name}-{part}"
    return Dataset(name, tuple(questions), articles_path, qrels, kind="questions", dropped=dropped)


def _parse_question(record: dict[str, Any], path: Path, line_no: int) -> Question:
    def fail(problem: str) -> DatasetError:
        return DatasetError(path, problem, line_no)

    qid = record.get("id")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid).strip() == "":
        raise fail("missing 'id'")
    qid = str(qid)
    if re.search(r"\s", qid):
        raise fail(f"question id {qid!r} contains whitespace")
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise fail("missing 'question' text")
    answer = record.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise fail("'answer' must be a string or null")
    raw_evidence = record.get("evidence") or []
    if not isinstance(raw_evidence, list):
        raise fail("'evidence' must be a list of {article_id, text}")
    evidence = []
    for item in raw_evidence:
        if not isinstance(item, dict) or not isinstance(item.get("article_id"), str) or not item["article_id"]:
            raise fail("every evidence item needs an 'article_id'")
        if item.get("text") is not None and not isinstance(item["text"], str):
            raise fail("evidence 'text' must be a string or null")
        evidence.append(Evidence(item["article_id"], item.get("text") or None))
    unanswerable = record.get("type") == "unanswerable"
    if unanswerable and evidence:
        raise fail("question is marked unanswerable but has evidence")
    return Question(qid, text.strip(), answer, tuple(evidence), unanswerable, _iso_date(record, fail))


def _iso_date(record: dict[str, Any], fail) -> str | None:
    value = record.get("question_date") or record.get("date")
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()  # a timestamp keeps only its date
    except (TypeError, ValueError):
        raise fail(f"date {value!r} is not an ISO date (YYYY-MM-DD)") from None


# --- BEIR ------------------------------------------------------------------------------------------------------


def load_beir(folder: Path | str, split: str = "test") -> Dataset:
    """BEIR folder: corpus.jsonl (_id, title, text), queries.jsonl (_id, text), qrels/<split>.tsv.

    Only queries judged in the split's qrels become questions (BEIR ships all splits' queries together).
    """
    folder = Path(folder)
    corpus = folder / "corpus.jsonl"
    queries_path = folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (corpus, queries_path, qrels_path):
        if not needed.is_file():
            raise DatasetError(needed, "file not found (a BEIR folder needs corpus.jsonl, queries.jsonl, qrels/)")
    qrels = _read_qrels(qrels_path)
    texts: dict[str, str] = {}
    for line_no, record in _read_jsonl(queries_path):
        qid, text = record.get("_id"), record.get("text")
        if qid is None or not isinstance(text, str):
            raise DatasetError(queries_path, "a query needs '_id' and 'text'", line_no)
        texts[str(qid)] = text
    missing = [qid for qid in qrels if qid not in texts]
    if missing:
        raise DatasetError(qrels_path, f"{len(missing)} judged queries are not in queries.jsonl (e.g. {missing[0]!r})")
    questions = tuple(
        Question(qid, texts[qid], None, tuple(Evidence(doc) for doc, rel in docs.items() if rel > 0))
        for qid, docs in qrels.items()
    )
    return Dataset(folder.name, questions, corpus, qrels, kind="beir")


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with _open(path) as handle:
        for line_no, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if line_no == 1 and row[0].strip().lower() in {"query-id", "query_id", "qid"}:
                continue
            if len(row) != 3:
                raise DatasetError(path, f"expected 3 tab-separated fields (query-id corpus-id score), got {len(row)}",
                                   line_no)
            qid, doc, score = (cell.strip() for cell in row)
            try:
                qrels.setdefault(qid, {})[doc] = int(score)
            except ValueError:
                raise DatasetError(path, f"score {score!r} is not an integer", line_no) from None
    if not qrels:
        raise DatasetError(path, "no relevance judgements")
    return qrels


# --- synthetic known-item questions ----------------------------------------------------------------------------


def synthetic_questions(articles: Iterable[tuple[str, str | None, str]], n: int = 100, seed: int = 0,
                        titles: bool = True) -> Dataset:
    """Known-item questions from the user's own corpus, for when no labelled dataset fits it.

    For each of `n` sampled articles, one sentence that is not the first (the lead often repeats the
    title) and has 8–40 words becomes the query, its article the only relevant one and the sentence the
    evidence; with `titles`, the article's title is a second query. Sampling is by sorted article id, so
    the same corpus and seed give the same questions whatever order the articles come in.
    """
    from index.sentences import split_sentences  # pysbd: loaded only when synthetic questions are wanted

    if n < 1:
        raise ValueError("n must be at least 1")
    pool = sorted({article_id: (title, body) for article_id, title, body in articles}.items())
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(pool)), min(n, len(pool))))
    questions: list[Question] = []
    qrels: dict[str, dict[str, int]] = {}
    for number, index in enumerate(picked):
        article_id, (title, body) = pool[index]
        candidates = [s.text for s in split_sentences(body or "")[1:]
                      if MIN_SENTENCE_WORDS <= len(s.text.split()) <= MAX_SENTENCE_WORDS]
        made = []
        if candidates:
            sentence = rng.choice(candidates)
            made.append(Question(f"{SYNTHETIC_PREFIX}{number:05d}-sentence", sentence, None,
                                 (Evidence(article_id, sentence),)))
        if titles and title and title.strip():
            made.append(Question(f"{SYNTHETIC_PREFIX}{number:05d}-title", title.strip(), None, (Evidence(article_id),)))
        for question in made:
            questions.append(question)
            qrels[question.id] = {article_id: 1}
    return Dataset("synthetic", tuple(questions), None, qrels, kind="synthetic", synthetic=True)


# --- dispatch and shared helpers -------------------------------------------------------------------------------


def load_dataset(path: Path | str, split: str = "test", part: str = "all") -> Dataset:
    """A folder with corpus.jsonl is BEIR; a .jsonl file (or a folder with questions.jsonl) is questions
    (`part`: their declared dev or test split, or all)."""
    path = Path(path)
    if path.is_dir():
        if (path / "corpus.jsonl").is_file():
            return load_beir(path, split)
        if (path / "questions.jsonl").is_file():
            return load_questions(path / "questions.jsonl", part=part)
        raise DatasetError(path, "folder has neither corpus.jsonl (BEIR) nor questions.jsonl")
    if not path.exists():
        raise DatasetError(path, "no such file or folder")
    if path.suffix.lower() == ".jsonl":
        return load_questions(path, part=part)
    raise DatasetError(path, "not a dataset: expected a questions .jsonl file or a BEIR folder")


def _open(path: Path):
    try:
        return path.open(encoding="utf-8", newline="")
    except OSError as err:
        raise DatasetError(path, f"cannot read: {err.strerror or err}") from None


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is a DatasetError naming file and line."""
    if not path.is_file():
        raise DatasetError(path, "file not found")
    with _open(path) as handle:
        try:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DatasetError(path, f"invalid JSON ({err.msg})", line_no) from None
                if not isinstance(record, dict):
                    raise DatasetError(path, "expected a JSON object", line_no)
                yield line_no, record
        except UnicodeDecodeError:
            raise DatasetError(path, "not UTF-8 text") from None
