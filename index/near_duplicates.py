"""Near-duplicate articles (one wire story in several outlets, re-published updates) via MinHash LSH.

Without this, retrieval returns the same passage five times from five outlets and crowds out
everything else. Signatures are fixed-seed MinHashes over word 5-shingles, so they are deterministic,
can be stored in SQLite as bytes and an index rebuilt from them without re-reading the bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping

from datasketch import LeanMinHash, MinHash, MinHashLSH

SHINGLE_WORDS = 5
SEED = 1
SCHEME = "affine32"  # pinned: hash values from different schemes cannot be compared
_BYTE_ORDER = "<"  # stored blobs are portable across machines
_WORD = re.compile(r"\w+")
_LSH_WEIGHTS = (0.1, 0.9)  # (false positive, false negative) weights for choosing the LSH bands


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[bytes]:
    """Word `size`-grams of the lower-cased text; punctuation and spacing differences do not count.
    A text shorter than `size` words is one shingle; an empty text has none."""
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


def signature(text: str, num_perm: int = 64) -> MinHash:
    """MinHash of the text's word 5-shingles (empty when the text has no words)."""
    minhash = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)
    minhash.update_batch(list(shingles(text)))
    return minhash


def to_bytes(minhash: MinHash) -> bytes:
    """A signature as a blob for SQLite (datasketch's LeanMinHash format: seed, scheme, hash values)."""
    lean = minhash if isinstance(minhash, LeanMinHash) else LeanMinHash(minhash)
    buffer = bytearray(lean.bytesize(byteorder=_BYTE_ORDER))
    lean.serialize(buffer, byteorder=_BYTE_ORDER)
    return bytes(buffer)


def from_bytes(blob: bytes) -> LeanMinHash:
    return LeanMinHash.deserialize(blob, byteorder=_BYTE_ORDER)


class NearDuplicateIndex:
    """Articles in insertion order, an LSH index over their signatures, and the groups found so far.

    LSH only proposes candidates; a candidate counts as a near-duplicate when the estimated Jaccard
    similarity of the two shingle sets is at least `threshold`. Groups are transitive (an update of an
    update joins the original's group), and a group's representative is its first-added member, so add
    articles oldest first.
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 64):
        self.threshold = threshold
        self.num_perm = num_perm
        # Banding tuned to miss few pairs at the threshold (default weights miss half of them);
        # the extra candidates are then checked against the threshold.
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=_LSH_WEIGHTS)
        self._signatures: dict[str, LeanMinHash] = {}  # insertion order
        self._order: dict[str, int] = {}
        self._parent: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._signatures

    def __iter__(self) -> Iterator[str]:
        """Article ids in insertion order."""
        return iter(self._signatures)

    def add(self, article_id: str, text: str) -> list[str]:
        """Index an article; returns the already-indexed articles it nearly duplicates."""
        return self.add_signature(article_id, signature(text, self.num_perm))

    def add_signature(self, article_id: str, minhash: MinHash) -> list[str]:
        if article_id in self._signatures:
            raise ValueError(f"article '{article_id}' is already in the near-duplicate index")
        if len(minhash) != self.num_perm:
            raise ValueError(f"signature has {len(minhash)} permutations, the index uses {self.num_perm}")
        lean = minhash if isinstance(minhash, LeanMinHash) else LeanMinHash(minhash)
        matches = self.query_signature(lean)
        self._signatures[article_id] = lean
        self._order[article_id] = len(self._order)
        self._parent[article_id] = article_id
        if not lean.is_empty():  # an empty text is nobody's duplicate
            self._lsh.insert(article_id, lean)
        for other in matches:
            self._union(other, article_id)
        return matches

    def query(self, text: str) -> list[str]:
        """Indexed articles that nearly duplicate `text`, in insertion order."""
        return self.query_signature(signature(text, self.num_perm))

    def query_signature(self, minhash: MinHash) -> list[str]:
        if minhash.is_empty():
            return []
        found = [key for key in self._lsh.query(minhash)
                 if minhash.jaccard(self._signatures[key]) >= self.threshold]
        return sorted(found, key=self._order.__getitem__)

    def representative(self, article_id: str) -> str:
        """The first-added member of the article's group (itself when it has no near-duplicate)."""
        root = article_id
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[article_id] != root:  # path compression
            self._parent[article_id], article_id = root, self._parent[article_id]
        return root

    def groups(self) -> list[list[str]]:
        """Groups of two or more near-duplicates, members and groups in insertion order."""
        members: dict[str, list[str]] = {}
        for article_id in self._signatures:
            members.setdefault(self.representative(article_id), []).append(article_id)
        return [group for group in members.values() if len(group) > 1]

    def to_records(self) -> list[tuple[str, bytes]]:
        """(article id, signature blob) in insertion order: what to store to rebuild the index."""
        return [(article_id, to_bytes(minhash)) for article_id, minhash in self._signatures.items()]

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, bytes]], threshold: float = 0.8,
                     num_perm: int = 64) -> NearDuplicateIndex:
        index = cls(threshold, num_perm)
        for article_id, blob in records:
            index.add_signature(article_id, from_bytes(blob))
        return index

    def _union(self, first: str, second: str) -> None:
        a, b = self.representative(first), self.representative(second)
        if a != b:
            keep, drop = (a, b) if self._order[a] < self._order[b] else (b, a)
            self._parent[drop] = keep


def cluster(articles: Iterable[tuple[str, str]], threshold: float = 0.8, num_perm: int = 64) -> dict[str, str]:
    """Article id → id of its near-duplicate group's representative (the first of the group in
    `articles`; an article without near-duplicates maps to itself)."""
    index = NearDuplicateIndex(threshold, num_perm)
    for article_id, text in articles:
        index.add(article_id, text)
    return {article_id: index.representative(article_id) for article_id in index}


class NearDuplicateGroups:
    """The same groups as a NearDuplicateIndex built from scratch in `order`, kept up to date by difference
    (for a store whose snapshots change by a few articles at a time: a replica of a remote index).

    `update(current, signature_of)` takes every article of the new state as id -> (version, order key);
    only articles that are new, or whose version changed, are looked up in the LSH (their signatures read
    through `signature_of`), and only removed or changed ones leave it. The pairs found are the same
    whatever the insertion order (LSH candidates share a band, which is symmetric, and the Jaccard check
    is too), so the groups are the connected components of the same pairs, each represented by its member
    with the smallest order key, as the from-scratch index's first-added member."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 64):
        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=_LSH_WEIGHTS)
        self._signatures: dict[str, LeanMinHash] = {}
        self._versions: dict[str, object] = {}
        self._order: dict[str, tuple] = {}
        self._pairs: dict[str, set[str]] = {}  # article -> its near-duplicates (only articles with some)

    def __len__(self) -> int:
        return len(self._signatures)

    def update(self, current: Mapping[str, tuple[object, tuple]], signature_of: Callable[[str], MinHash]
               ) -> dict[str, str]:
        """Article id -> its group's representative, for the articles in groups of two or more."""
        for article_id in [a for a in self._signatures if a not in current or current[a][0] != self._versions[a]]:
            self._remove(article_id)
        for article_id, (version, order) in current.items():
            if article_id not in self._signatures:
                self._add(article_id, version, signature_of(article_id))
            self._order[article_id] = order
        return self.representatives()

    def representatives(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in self._pairs:
            if start in out:
                continue
            component, todo = {start}, [start]
            while todo:
                for other in self._pairs.get(todo.pop(), ()):
                    if other not in component:
                        component.add(other)
                        todo.append(other)
            first = min(component, key=lambda a: (self._order[a], a))
            out.update(dict.fromkeys(component, first))
        return out

    def _add(self, article_id: str, version: object, minhash: MinHash) -> None:
        if len(minhash) != self.num_perm:
            raise ValueError(f"signature has {len(minhash)} permutations, the index uses {self.num_perm}")
        lean = minhash if isinstance(minhash, LeanMinHash) else LeanMinHash(minhash)
        if not lean.is_empty():  # an empty text is nobody's duplicate
            for other in self._lsh.query(lean):
                if lean.jaccard(self._signatures[other]) >= self.threshold:
                    self._pairs.setdefault(article_id, set()).add(other)
                    self._pairs.setdefault(other, set()).add(article_id)
            self._lsh.insert(article_id, lean)
        self._signatures[article_id] = lean
        self._versions[article_id] = version

    def _remove(self, article_id: str) -> None:
        if not self._signatures.pop(article_id).is_empty():
            self._lsh.remove(article_id)
        del self._versions[article_id]
        self._order.pop(article_id, None)
        for other in self._pairs.pop(article_id, ()):
            self._pairs[other].discard(article_id)
            if not self._pairs[other]:
                del self._pairs[other]
