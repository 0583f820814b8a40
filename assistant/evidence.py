"""Shown passages → candidate answer sentences with the signals a fitted model scores them by.

Candidates are every sentence of the k shown passages plus the sentence just outside each passage
(a chunk boundary can cut an answer from the sentence that names its subject). Each gets one row of
SENTENCE_FEATURES; the question as a whole gets one row of QUESTION_FEATURES (how well the best
candidates cover what was asked), which the support model reads to decide whether to answer at all.
The weights live in assistant/models/answer_model.json, fit by eval/fit_answers.py on dev splits."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answer_type import KINDS as ASKED_KINDS
from assistant.answer_type import expected_type, offers, withholds
from assistant.results import Passage
from assistant.summarize import content_terms, terms_of
from index.store import Snapshot

MIN_SENTENCE_CHARS = 15

SENTENCE_FEATURES = (
    "similarity", "similarity_gap", "similarity_rank", "overlap", "focus_overlap", "entity_overlap",
    "weighted_overlap", "offers_kind", "open_question", "passage_rank", "article_rank", "first_sentence",
    "log_position", "neighbour_similarity", "log_length", "outside_passage", "passage_score", "title_overlap",
    "passage_overlap", "withholds", "weighted_overlap_gap", "focus_overlap_gap", "offers_and_focus",
    "similarity_z",
)
QUESTION_FEATURES = (
    "best_probability", "margin", "best_similarity", "best_focus_overlap", "max_focus_overlap",
    "best_offers_kind", "open_question", "top_dense_score", "top_passage_overlap", "entity_coverage",
    "log_terms", "top_title_overlap", "retrievers_agree", "focus_coverage", "best_kind_probability",
    "best_withholds", "best_entity_overlap", "top_entity_coverage", "best_weighted_overlap",
    # Whether any of the three likeliest sentences offers the asked-for kind (1 for open questions) or says
    # it is withheld, and the asked kind when none offers it: near misses ask for the one fact the
    # articles lack (the fee, the cause), and how telling a missing amount is differs by kind.
    "top3_offers_kind", "top3_withholds", *(f"missing_{kind}" for kind in ASKED_KINDS),
)


@dataclass(frozen=True)
class Candidate:
    passage_index: int  # index into the shown passages
    article_id: str
    sentence_index: int  # in the article
    start: int  # in the article body
    end: int
    text: str
    vector: np.ndarray  # pooled sentence vector, unit length


@dataclass(frozen=True)
class QuestionTerms:
    """The question's stemmed content words, split into its topic entities and its focus (the rest:
    what is asked about them: "fined", "price", "why")."""

    kind: str | None
    terms: frozenset[str]
    entity_terms: frozenset[str]
    focus_terms: frozenset[str]
    entities: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    candidates: tuple[Candidate, ...]
    features: np.ndarray  # (len(candidates), len(SENTENCE_FEATURES))
    question: QuestionTerms


def question_terms(question: str) -> QuestionTerms:
    from assistant.converse import entities

    names = tuple(entities(question))
    terms = frozenset(content_terms(question))
    entity_terms = frozenset(content_terms(" ".join(names))) & terms
    focus = terms - entity_terms
    return QuestionTerms(expected_type(question), terms, entity_terms, frozenset(focus or terms), names)


def gather(snapshot: Snapshot, passages: Sequence[Passage], question: str, query_vector: np.ndarray, *,
           template_articles: int = 0) -> Evidence:
    """Candidates from the shown passages (and their neighbouring sentences), with their features. A
    sentence found in `template_articles` or more articles of the index is a template, never a candidate
    (0: keep all)."""
    asked = question_terms(question)
    candidates, outside = _candidates(snapshot, passages)
    if template_articles and candidates:
        candidates, outside = _without_templates(snapshot, candidates, outside, template_articles)
    if not candidates:
        return Evidence((), np.zeros((0, len(SENTENCE_FEATURES))), asked)
    vectors = np.stack([c.vector for c in candidates])
    similarity = vectors @ np.asarray(query_vector, dtype=np.float32)
    term_sets = [terms_of(c.text) for c in candidates]
    weights = _pool_weights(term_sets)
    absent = math.log(1.0 + 2.0 * len(term_sets))  # a question word no candidate holds weighs the most
    passage_terms = [terms_of(p.text) for p in passages]
    title_terms = [terms_of(p.title) for p in passages]
    article_rank = _article_ranks(passages)
    top_score = max(p.score for p in passages) or 1.0
    order = np.argsort(-similarity, kind="stable")
    sim_rank = np.empty(len(candidates))
    sim_rank[order] = np.arange(len(candidates))
    by_key = {(c.article_id, c.sentence_index): i for i, c in enumerate(candidates)}
    rows = []
    for i, (c, terms) in enumerate(zip(candidates, term_sets, strict=True)):
        passage = passages[c.passage_index]
        neighbours = [similarity[j] for j in (by_key.get((c.article_id, c.sentence_index - 1)),
                                              by_key.get((c.article_id, c.sentence_index + 1))) if j is not None]
        rows.append((
            float(similarity[i]), float(similarity[i] - similarity.max()), 1.0 / (1.0 + sim_rank[i]),
            _share(asked.terms, terms), _share(asked.focus_terms, terms), _share(asked.entity_terms, terms),
            _weighted_share(asked.terms, terms, weights, absent), float(offers(c.text, asked.kind, question)),
            float(asked.kind is None), 1.0 / (1.0 + c.passage_index), 1.0 / (1.0 + article_rank[c.article_id]),
            float(c.sentence_index == 0), math.log1p(c.sentence_index),
            float(max(neighbours, default=0.0)), math.log(len(c.text)), float(outside[i]),
            passage.score / top_score, _share(asked.terms, title_terms[c.passage_index]),
            _share(asked.terms, passage_terms[c.passage_index]), float(withholds(c.text)),
        ))
    return Evidence(tuple(candidates), _relative(np.asarray(rows, dtype=np.float64)), asked)


_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_LIST_ITEM = re.compile(r"^(?:[-–•*]\s|\d{1,3}[.)]?\s)")


def reads_as_sentence(text: str) -> bool:
    """Ends as a sentence does, or is an item of a list (a result, a winner, a ranking). Headlines, photo
    captions, links to other stories, sign-up prompts and datelines ("Tokyo, Japan CNN —") sit in web news
    bodies as lines of their own (11% of RealTime QA's, 1% of BBC's): they name a topic without saying
    anything about it, and 18 of 148 answers on the RealTime QA dev weeks quoted one. Left out of the
    candidates, the RealTime QA dev answers went 0.598 -> 0.610 evidence in answer, 0.723 -> 0.745 answer
    string, 0.639 -> 0.653 citation precision, every other dev figure unchanged. The answer models were not
    refit for it: a refit on the filtered candidates lost abstention recall and follow-up answers on dev."""
    line = text.strip()
    return bool(_SENTENCE_END.search(line) or _LIST_ITEM.match(line))


def _without_templates(snapshot: Snapshot, candidates: list[Candidate], outside: list[bool], at_least: int
                       ) -> tuple[list[Candidate], list[bool]]:
    """The candidates fewer than `at_least` articles hold: a sentence that recurs across that many
    articles ("Sign up here for the '5 Things' newsletter.") is the site's template, not the story's."""
    spread = snapshot.sentence_spread([c.text for c in candidates])
    kept = [i for i, n in enumerate(spread) if n < at_least]
    return [candidates[i] for i in kept], [outside[i] for i in kept]


def _relative(rows: np.ndarray) -> np.ndarray:
    """Append the columns that compare a candidate with the others of its question: a pointwise model
    cannot otherwise tell "best of a weak pool" from "one of many good ones"."""
    column = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    weighted, focus = rows[:, column["weighted_overlap"]], rows[:, column["focus_overlap"]]
    similarity = rows[:, column["similarity"]]
    spread = similarity.std() or 1.0
    extra = np.column_stack([weighted - weighted.max(), focus - focus.max(),
                             rows[:, column["offers_kind"]] * focus, (similarity - similarity.mean()) / spread])
    return np.hstack([rows, extra])


def question_row(evidence: Evidence, probabilities: np.ndarray, passages: Sequence[Passage]) -> np.ndarray:
    """QUESTION_FEATURES for the support model, from the candidates' fitted probabilities."""
    f = evidence.features
    column = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    asked = evidence.question
    if not len(probabilities):
        return np.zeros(len(QUESTION_FEATURES))
    order = np.argsort(-probabilities, kind="stable")
    best = order[0]
    second = probabilities[order[1]] if len(order) > 1 else 0.0
    shown_terms = set().union(*(terms_of(p.text) | terms_of(p.title) for p in passages))
    top = passages[0]
    agree = float(top.dense_rank == 1 and top.keyword_rank == 1)
    offering = f[:, column["offers_kind"]] > 0
    kind_best = probabilities[offering].max() if asked.kind and offering.any() else \
        (probabilities[best] if asked.kind is None else 0.0)
    top_terms = terms_of(top.text) | terms_of(top.title)
    top3 = order[:3]
    top3_offers = float(f[top3, column["offers_kind"]].max() > 0) if asked.kind else 1.0
    missing = [float(asked.kind == kind and not top3_offers) for kind in ASKED_KINDS]
    return np.array([
        probabilities[best], probabilities[best] - second, f[:, column["similarity"]].max(),
        f[best, column["focus_overlap"]], f[:, column["focus_overlap"]].max(), f[best, column["offers_kind"]],
        float(asked.kind is None), float(top.dense_score or 0.0), f[:, column["passage_overlap"]].max(),
        _share(asked.entity_terms, shown_terms) if asked.entity_terms else 1.0, math.log1p(len(asked.terms)),
        f[:, column["title_overlap"]].max(), agree, _share(asked.focus_terms, shown_terms), kind_best,
        f[best, column["withholds"]], f[best, column["entity_overlap"]],
        _share(asked.entity_terms, top_terms) if asked.entity_terms else 1.0, f[best, column["weighted_overlap"]],
        top3_offers, float(f[top3, column["withholds"]].max() > 0), *missing,
    ], dtype=np.float64)


def _candidates(snapshot: Snapshot, passages: Sequence[Passage]) -> tuple[list[Candidate], list[bool]]:
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    outside: list[bool] = []

    def add(index: int, article_id: str, sentence_index: int, sentence, vector, is_outside: bool) -> None:
        key = (article_id, sentence_index)
        if key in seen or len(sentence.text) < MIN_SENTENCE_CHARS or not reads_as_sentence(sentence.text):
            return
        seen.add(key)
        out.append(Candidate(index, article_id, sentence_index, sentence.start, sentence.end, sentence.text,
                             np.asarray(vector, dtype=np.float32)))
        outside.append(is_outside)

    prefetch = getattr(snapshot, "prefetch", None)
    if prefetch is not None:  # a remote store reads what the loop needs in a few round trips, not one per item
        prefetch([passage.position for passage in passages])
    for index, passage in enumerate(passages):
        chunk = snapshot.chunk(passage.position)
        sentences = snapshot.sentences(passage.article_id)
        vectors = snapshot.sentence_vectors(passage.position)
        for offset, vector in enumerate(vectors):
            number = chunk.first_sentence + offset
            add(index, passage.article_id, number, sentences[number], vector, False)
        for neighbour, number in _neighbours(snapshot, passage.position, chunk):
            add(index, passage.article_id, number, sentences[number],
                snapshot.sentence_vectors(neighbour)[number - snapshot.chunk(neighbour).first_sentence], True)
    return out, outside


def _neighbours(snapshot: Snapshot, position: int, chunk) -> list[tuple[int, int]]:
    """(position of the adjacent chunk, sentence number) for the sentences just before and after this
    chunk, where the adjacent chunk of the same article sits at the adjacent position."""
    found = []
    for step, number in ((-1, chunk.first_sentence - 1), (1, chunk.last_sentence + 1)):
        other = position + step
        if number < 0 or not 0 <= other < snapshot.size:
            continue
        if snapshot.chunk_article_keys[other] != snapshot.chunk_article_keys[position]:
            continue
        neighbour = snapshot.chunk(other)
        if neighbour.first_sentence <= number <= neighbour.last_sentence:
            found.append((other, number))
    return found




def _share(wanted: frozenset[str] | set[str], have: frozenset[str] | set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 0.0


def _pool_weights(term_sets: Sequence[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency within the candidate pool: a word every candidate shares (the topic)
    tells them apart less than one only a few hold (what was asked)."""
    counts: dict[str, int] = {}
    for terms in term_sets:
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    n = len(term_sets)
    return {term: math.log(1.0 + n / count) for term, count in counts.items()}


def _weighted_share(wanted: frozenset[str], have: frozenset[str], weights: dict[str, float],
                    absent: float) -> float:
    if not wanted:
        return 0.0
    total = sum(weights.get(t, absent) for t in wanted)
    return sum(weights[t] for t in wanted & have) / total


def _article_ranks(passages: Sequence[Passage]) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for passage in passages:
        ranks.setdefault(passage.article_id, len(ranks))
    return ranks
