"""Scored candidate sentences → an extractive answer: the most probable evidence first, further
sentences only while they are nearly as probable and say something new, each fact once with every
article that states it, then in an order that reads well."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from assistant.evidence import Candidate


@dataclass(frozen=True)
class SummarySettings:
    max_sentences: int = 3
    max_chars: int = 700
    # Two answer sentences this similar, each embedded on its own, state one fact twice: issue 11's measure.
    # Measured on embeddings of the sentences alone: the pooled in-chunk vectors of one article's sentences
    # share their context and sit far closer (on the dev splits, 66% of 3-sentence answers had a pooled
    # pair >= 0.7 against 0% by this measure), so a close pooled pair is judged again on fresh embeddings
    # when the engine passes `embed`.
    repeat_cosine: float = 0.7
    # Two articles' pooled vectors share no context and can sit a little below the fresh cosine: a pair
    # from different articles this close is judged afresh too (dev splits, the questions named below: of
    # 228 cross-article pairs the answers compared, the only 2 repeats under 0.7 pooled were at 0.67-0.69,
    # among 13 pairs in [0.65, 0.7)).
    repeat_cosine_other_article: float = 0.65
    # A close pooled pair sharing fewer content words than this is not judged again (no fresh embedding):
    # on the dev splits (BBC written dev halves and near misses, RealTime QA dev weeks: 1,128 close pooled
    # pairs, 64 of them repeats on fresh embeddings) no repeat shared fewer than 2, and 41% of the pairs
    # did, each of which cost a 3-4 ms embedding (`python -m eval.fit_redundancy`).
    repeat_min_shared_terms: int = 2
    # A pair of one article's sentences that passes that gate is embedded afresh only when the fitted pair
    # screen (`RepeatScreen`, assistant/models/repeat_model.json, eval/fit_redundancy.py on the same dev
    # splits) gives it at least its `skip_below` chance of being a repeat; the engine passes the screen.
    # A sentence of another article this similar (pooled vectors) to a chosen one says the same thing:
    # cite it beside it.
    same_fact_cosine: float = 0.8


@dataclass(frozen=True)
class Chosen:
    candidate: Candidate
    probability: float
    also: tuple[Candidate, ...] = ()  # the same fact in other articles, cited beside it


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


@lru_cache(maxsize=65536)
def terms_of(text: str) -> frozenset[str]:
    """content_terms, remembered: the same sentences come back across the stages and questions."""
    return frozenset(content_terms(text))


REPEAT_FEATURES = ("pooled_cosine", "overlap_coefficient", "jaccard", "log_shared_terms", "log_sentence_gap",
                   "length_ratio_squared", "log_longer_length")


def pair_features(a: Candidate, b: Candidate, pooled_cosine: float) -> np.ndarray:
    """REPEAT_FEATURES of two candidate sentences: how much of the shorter one's words the other holds
    says more about a repeated fact than their pooled vectors, which share their chunk's context."""
    ta, tb = terms_of(a.text), terms_of(b.text)
    shared = len(ta & tb)
    return np.array([
        pooled_cosine, shared / max(1, min(len(ta), len(tb))), shared / max(1, len(ta | tb)),
        math.log(max(1, shared)), math.log1p(_sentence_gap(a, b)),
        math.log(len(a.text) / len(b.text)) ** 2, math.log(max(len(a.text), len(b.text))),
    ], dtype=np.float64)


def _sentence_gap(a: Candidate, b: Candidate) -> int:
    """Sentences apart in one article; two articles count as far apart."""
    return abs(a.sentence_index - b.sentence_index) if a.article_id == b.article_id else 50


class RepeatScreen(Protocol):
    """P(two close sentences state one fact) from REPEAT_FEATURES, and the chance below which a pair is
    taken as two facts without embedding either sentence afresh."""

    skip_below: float

    def predict(self, rows: np.ndarray) -> np.ndarray: ...


def choose(candidates: Sequence[Candidate], probabilities: np.ndarray, settings: SummarySettings, *,
           min_relative: float, min_probability: float, min_relative_other: float | None = None,
           shown_before: frozenset[tuple[str, int]] = frozenset(), unseen_min_share: float = 0.0,
           embed: Callable[[list[str]], np.ndarray] | None = None,
           screen: RepeatScreen | None = None) -> list[Chosen]:
    """The best candidate, then others in order of probability while they reach `min_relative` of the
    best one's (`min_relative_other` for sentences of another article than the best one's: each article
    cited must earn its place) and `min_probability`, are not a fact already chosen, and fit the budgets.
    Sentences the conversation already showed come last: used only when nothing new qualifies, or when
    the best new one has under `unseen_min_share` of the best one's probability (the only real support).
    `embed(texts)` gives the vectors redundancy is judged by (default: the candidates' pooled vectors);
    `screen` spares that embedding for close pairs it finds unlikely to repeat a fact."""
    if not len(candidates):
        return []
    top = float(probabilities.max())
    lead_article = candidates[int(np.argmax(probabilities))].article_id
    other = min_relative if min_relative_other is None else min_relative_other
    floors = np.array([max(min_probability, (min_relative if c.article_id == lead_article else other) * top)
                       for c in candidates])
    by_probability = sorted(range(len(candidates)), key=lambda i: -probabilities[i])
    passing = [i for i in by_probability if probabilities[i] >= floors[i]]
    fresh = [i for i in passing if _key(candidates[i]) not in shown_before]
    if fresh and probabilities[fresh[0]] < unseen_min_share * top:
        # The shown sentences are the real support: lead with the best of them, then the best new one,
        # so a follow-up never only repeats what the conversation already showed.
        order = [by_probability[0], fresh[0]] + [i for i in by_probability if i not in (by_probability[0], fresh[0])]
        allowed = set(passing)
    else:
        order = fresh + [i for i in by_probability if i not in set(fresh)]
        allowed = set(fresh) if fresh else set(passing)
    vectors = np.stack([c.vector for c in candidates])
    repeats = _redundancy_check(candidates, vectors, settings, embed, screen)
    chosen: list[int] = []
    used_chars = 0
    for i in order:
        if len(chosen) >= settings.max_sentences:
            break
        if chosen and i not in allowed:
            continue
        if chosen and used_chars + len(candidates[i].text) > settings.max_chars:
            continue  # before the repeat check, which may embed sentences afresh
        if chosen and repeats(chosen, i):
            continue  # the same fact again, perhaps from another article: cited beside the first below
        chosen.append(i)
        used_chars += len(candidates[i].text)
    picked = [Chosen(candidates[i], float(probabilities[i]), _same_fact(i, candidates, vectors, settings))
              for i in chosen]
    return reading_order(picked)


def _redundancy_check(candidates, pooled: np.ndarray, settings: SummarySettings, embed,
                      screen: RepeatScreen | None = None):
    """(chosen, i) -> whether candidate i repeats a chosen one. Pooled in-chunk vectors overstate how alike
    sentences of one article are, never understate it much, so a pair below the cosine is accepted as it
    is; only a pair above it that shares enough words and passes the screen is judged again on fresh
    embeddings (made lazily, a few per answer)."""
    fresh: dict[int, np.ndarray] = {}

    def vectors(indices: list[int]) -> np.ndarray:
        missing = [i for i in indices if i not in fresh]
        if missing:
            fresh.update(zip(missing, np.asarray(embed([candidates[i].text for i in missing]), dtype=np.float32),
                             strict=True))
        return np.stack([fresh[i] for i in indices])

    def spared(j: int, i: int) -> bool:
        """The screen's call: one article's pair unlikely enough to repeat a fact to skip embedding it."""
        if screen is None or candidates[j].article_id != candidates[i].article_id:
            return False  # two articles' pairs are few, and the screen was fit on one article's
        row = pair_features(candidates[j], candidates[i], float(pooled[j] @ pooled[i]))
        return float(screen.predict(row[None, :])[0]) < screen.skip_below

    def repeats(chosen: list[int], i: int) -> bool:
        if embed is None:
            return any(float(pooled[j] @ pooled[i]) >= settings.repeat_cosine for j in chosen)
        close = [j for j in worth_embedding(candidates, pooled, settings, chosen, i) if not spared(j, i)]
        if not close:
            return False
        together = vectors([*close, i])  # one encoder run for the pair's missing sentences
        return float((together[:-1] @ together[-1]).max()) >= settings.repeat_cosine

    return repeats


def worth_embedding(candidates: Sequence[Candidate], pooled: np.ndarray, settings: SummarySettings,
                    chosen: Sequence[int], i: int) -> list[int]:
    """The chosen sentences that candidate i might repeat, judged on fresh embeddings: close on pooled
    vectors (a lower floor for two articles' sentences) and sharing enough content words."""
    def floor(j: int) -> float:
        same = candidates[j].article_id == candidates[i].article_id
        return settings.repeat_cosine if same else settings.repeat_cosine_other_article

    mine = terms_of(candidates[i].text)
    return [j for j in chosen if float(pooled[j] @ pooled[i]) >= floor(j)
            and len(mine & terms_of(candidates[j].text)) >= settings.repeat_min_shared_terms]


def _same_fact(i: int, candidates: Sequence[Candidate], vectors: np.ndarray,
               settings: SummarySettings) -> tuple[Candidate, ...]:
    """Sentences of other articles that say what candidate i says (each article once, best first)."""
    similarity = vectors @ vectors[i]
    seen = {candidates[i].article_id}
    out = []
    for j in np.argsort(-similarity, kind="stable"):
        other = candidates[int(j)]
        if similarity[j] < settings.same_fact_cosine:
            break
        if other.article_id not in seen:
            seen.add(other.article_id)
            out.append(other)
    return tuple(out)


def _key(candidate: Candidate) -> tuple[str, int]:
    return candidate.article_id, candidate.sentence_index


def reading_order(chosen: Sequence[Chosen]) -> list[Chosen]:
    """Articles in the order of their most probable sentence; within an article, in text order."""
    article_rank: dict[str, int] = {}
    for c in sorted(chosen, key=lambda c: -c.probability):
        article_rank.setdefault(c.candidate.article_id, len(article_rank))
    return sorted(chosen, key=lambda c: (article_rank[c.candidate.article_id], c.candidate.start))
