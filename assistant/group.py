"""Passages → per-article groups, so one long article cannot fill every slot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from assistant.results import Passage


def group_by_article(passages: Sequence[Passage], k: int, per_article: int = 2) -> list[Passage]:
    """The best k passages taking at most `per_article` from any one article (0: no cap), then
    ordered so each article's passages stand together, articles ranked by their best passage."""
    taken: dict[str, list[Passage]] = {}
    count = 0
    for passage in passages:  # best first, so dict order is article rank
        group = taken.setdefault(passage.article_id, [])
        if per_article and len(group) >= per_article:
            continue
        group.append(passage)
        count += 1
        if count >= k:
            break
    return [p for group in taken.values() for p in group]


def article_ranking(passages: Sequence[Passage]) -> list[str]:
    """Article ids in the order of their best passage (the article's rank is its best chunk's)."""
    seen: dict[str, None] = {}
    for passage in passages:
        seen.setdefault(passage.article_id, None)
    return list(seen)


def fold_near_duplicates(passages: Sequence[Passage], representative: Mapping[str, str]) -> list[Passage]:
    """Keep the best-ranked article of each near-duplicate group (the same wire story in several outlets);
    its first passage lists the other outlets as "also reported by"."""
    kept: list[Passage] = []
    leader: dict[str, str] = {}  # group -> the article shown for it
    also: dict[str, list[str]] = {}
    folded: dict[str, list[str]] = {}
    for passage in passages:
        group = representative.get(passage.article_id, passage.article_id)
        shown = leader.setdefault(group, passage.article_id)
        if shown == passage.article_id:
            kept.append(passage)
            continue
        label = passage.source or passage.title
        if label not in also.setdefault(shown, []):
            also[shown].append(label)
        if passage.article_id not in folded.setdefault(shown, []):
            folded[shown].append(passage.article_id)
    out, labelled = [], set()
    for passage in kept:
        if passage.article_id in also and passage.article_id not in labelled:
            labelled.add(passage.article_id)
            passage = passage.but(also_reported_by=tuple(also[passage.article_id]),
                                  duplicate_ids=tuple(folded[passage.article_id]))
        out.append(passage)
    return out
