"""How many distinct articles hold each sentence: the store's measure of boilerplate.

Web news bodies repeat template sentences that end as sentences ("Sign up here for the '5 Things'
newsletter.", "This story has been updated with additional details.") across hundreds of articles, and
an answer that quotes one says nothing. A real fact recurs in a few articles (wire copies, follow-ups,
a newsletter re-crawled); a template in many. Sentences are compared by a key of their normalised words
(lower case, punctuation and spacing ignored), so "Read more here." and "read more here" are one."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    """The sentence's lower-cased words, one space apart: copies differ in quotes, dashes and spacing."""
    return " ".join(_WORD.findall(text.lower()))


def sentence_key(text: str) -> int:
    """A stable signed 64-bit key of the normalised sentence (fits an SQLite INTEGER; Python's hash() is
    salted per process, and keys are stored)."""
    digest = hashlib.blake2b(normalise(text).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def article_keys(texts: Iterable[str]) -> set[int]:
    """The distinct keys of one article's sentences: an article counts once however often it repeats one."""
    return {sentence_key(t) for t in texts}


class SpreadCounter:
    """Key -> number of articles holding it, kept by difference as articles come, change and go (for a
    store that holds the sentence texts in the client: the Milvus backend)."""

    def __init__(self) -> None:
        self._keys: dict[str, frozenset[int]] = {}
        self._counts: Counter[int] = Counter()

    def set(self, article_id: str, keys: Iterable[int]) -> None:
        """This article now holds these keys (a replacement drops its old ones first)."""
        self.discard(article_id)
        held = self._keys[article_id] = frozenset(keys)
        self._counts.update(held)

    def discard(self, article_id: str) -> None:
        for key in self._keys.pop(article_id, ()):
            self._counts[key] -= 1
            if not self._counts[key]:
                del self._counts[key]  # no article holds it any more

    def counts(self, texts: Sequence[str]) -> list[int]:
        return [self._counts.get(sentence_key(t), 0) for t in texts]
