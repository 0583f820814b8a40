"""BM25 keyword index over chunk texts (bm25s, English stemming and stopwords)."""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)


class KeywordIndex:
    """Positions 0..n-1 follow the snapshot's chunk order."""

    def __init__(self, bm25=None, size: int = 0):
        self.bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        import bm25s

        if not texts:
            return cls(None, 0)
        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(model, len(texts))

    def save(self, folder: Path) -> None:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "size.txt").write_text(str(self.size))
        if self.bm25 is not None:
            self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        size = int((folder / "size.txt").read_text())
        if size == 0:
            return cls(None, 0)
        model = bm25s.BM25.load(str(folder), show_progress=False)
        return cls(model, size)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) best first; only positions where mask is true; no zero-score hits."""
        if self.bm25 is None or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        tokens = tokenize([query])
        if not tokens.vocab or not any(tokens.ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query_tokens = [[t for t in self._known(tokens)]]
        if not query_tokens[0]:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        weight = None if mask is None else mask.astype(np.float32)
        docs, scores = self.bm25.retrieve(
            query_tokens, k=min(k, self.size), show_progress=False, n_threads=1, weight_mask=weight
        )
        docs, scores = docs[0].astype(np.int64), scores[0]
        keep = scores > 0
        return docs[keep], scores[keep].astype(np.float32)

    def _known(self, tokens) -> list[str]:
        inverse = {i: w for w, i in tokens.vocab.items()}
        words = [inverse[i] for i in tokens.ids[0]]
        return [w for w in words if w in self.bm25.vocab_dict]


class ArticleKeywords:
    """BM25 over whole articles (the title counted twice, then the text), searched by article key."""

    def __init__(self, keys: np.ndarray, index: KeywordIndex):
        self.keys, self.index = keys, index

    @classmethod
    def build(cls, keys: list[int], titles: list[str], texts: list[str]) -> ArticleKeywords:
        return cls(np.asarray(keys, dtype=np.int64),
                   KeywordIndex.build([f"{t}\n{t}\n{b}" for t, b in zip(titles, texts, strict=True)]))

    def search(self, text: str, k: int, allowed_keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(article keys, scores) best first, only among `allowed_keys` when given."""
        allowed = None if allowed_keys is None else np.isin(self.keys, allowed_keys)
        found, scores = self.index.search(text, k, allowed)
        return self.keys[found], scores
