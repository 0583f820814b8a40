"""Retrieved passages → an extractive answer: score candidate sentences, drop redundant ones (MMR),
keep a few within a length budget, and order them by article and position so they read well."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assistant.answer_type import expected_type, offers
from assistant.results import Passage


@dataclass(frozen=True)
class SummarySettings:
    max_sentences: int = 3
    max_chars: int = 700
    mmr_lambda: float = 0.7  # relevance versus novelty
    min_relative_score: float = 0.75  # a sentence must score at least this share of the best one
    weight_similarity: float = 0.55
    weight_overlap: float = 0.35
    weight_rank: float = 0.10
    weight_answer_type: float = 0.15  # the sentence offers the kind of answer asked for (number, name, date)
    weight_lead: float = 0.05  # news leads summarise: the first two sentences of an article, for open questions


@dataclass(frozen=True)
class Candidate:
    passage_index: int  # index into the passages given
    article_id: str
    sentence_index: int  # in the article
    start: int  # in the article body
    end: int
    text: str
    similarity: float
    overlap: float
    score: float


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*[A-Za-z0-9]|[A-Za-z0-9]")
_STOPWORDS = frozenset("""a an and are as at be been but by can could did do does for from had has have he her his
how i if in into is it its many me much my of on or our she so than that the their them they this those to was
were what when where which who whom whose why will with would you your about after before over under than then
there these also just more most much such very was say said says tell told according""".split())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> set[str]:
    """Stemmed, lower-cased content words: the unit of keyword overlap."""
    words = [w.lower().strip(".'’-") for w in _WORD.findall(text)]
    words = [w for w in words if w and w not in _STOPWORDS]
    return set(_stemmer().stemWords(words))


def candidates(snapshot, passages: Sequence[Passage], query: str, query_vector: np.ndarray,
               settings: SummarySettings) -> list[Candidate]:
    """Every sentence of the given passages (each once), scored for relevance to the query."""
    terms = content_terms(query)
    kind = expected_type(query)
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for index, passage in enumerate(passages):
        chunk = snapshot.chunk(passage.position)
        sentences = snapshot.sentences(passage.article_id)[chunk.first_sentence:chunk.last_sentence + 1]
        vectors = snapshot.sentence_vectors(passage.position)
        similarities = vectors @ query_vector if len(vectors) else np.zeros(len(sentences))
        rank_prior = 1.0 / (1.0 + index)
        for offset, (sentence, similarity) in enumerate(zip(sentences, similarities, strict=True)):
            key = (passage.article_id, chunk.first_sentence + offset)
            if key in seen or len(sentence.text) < 15:
                continue
            seen.add(key)
            overlap = len(terms & content_terms(sentence.text)) / len(terms) if terms else 0.0
            score = (settings.weight_similarity * float(similarity) + settings.weight_overlap * overlap
                     + settings.weight_rank * rank_prior
                     + settings.weight_answer_type * offers(sentence.text, kind, query)
                     + (settings.weight_lead * (key[1] < 2) if kind is None else 0.0))
            out.append(Candidate(index, passage.article_id, key[1], sentence.start, sentence.end,
                                 sentence.text, float(similarity), overlap, score))
    return out


def select(cands: Sequence[Candidate], vectors: dict[tuple[str, int], np.ndarray],
           settings: SummarySettings) -> list[Candidate]:
    """Maximal marginal relevance within the sentence and character budgets."""
    pool = sorted(cands, key=lambda c: -c.score)
    if not pool:
        return []
    floor = pool[0].score * settings.min_relative_score
    chosen: list[Candidate] = []
    used_chars = 0
    while pool and len(chosen) < settings.max_sentences:
        def mmr(c: Candidate) -> float:
            if not chosen:
                return c.score
            redundancy = max(float(vectors[(c.article_id, c.sentence_index)]
                                   @ vectors[(s.article_id, s.sentence_index)]) for s in chosen)
            return settings.mmr_lambda * c.score - (1 - settings.mmr_lambda) * redundancy

        best = max(pool, key=mmr)
        pool.remove(best)
        if best.score < floor:
            break
        if used_chars + len(best.text) > settings.max_chars and chosen:
            continue
        chosen.append(best)
        used_chars += len(best.text)
    return reading_order(chosen)


def reading_order(chosen: Sequence[Candidate]) -> list[Candidate]:
    """Articles in the order of their best sentence; within an article, in text order."""
    article_rank: dict[str, int] = {}
    for c in sorted(chosen, key=lambda c: -c.score):
        article_rank.setdefault(c.article_id, len(article_rank))
    return sorted(chosen, key=lambda c: (article_rank[c.article_id], c.start))
