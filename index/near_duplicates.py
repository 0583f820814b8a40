"""Near-duplicate articles (one wire story in several outlets, re-published updates) via MinHash LSH.

Without this, retrieval returns the same passage five times from five outlets and crowds out
everything else. Signatures are fixed-seed MinHashes over word 5-shingles, so they are deterministic,
can be stored in SQLite as bytes and an index rebuilt from them without re-reading the bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

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
