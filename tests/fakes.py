"""A deterministic stand-in for the embedding model: hashed bag of word stems, unit length.

Texts sharing words get similar vectors, so rankings in tests are predictable and instant."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_STOP = {"the", "a", "an", "of", "to", "in", "and", "or", "is", "was", "it", "on", "for", "by", "with", "its",
         "that", "this", "what", "did", "does", "do", "which", "who", "how", "at", "as", "be", "are", "from"}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)]
    return word


class FakeEncoder:
    name = "fake-hash-encoder"
    max_tokens = 256

    def __init__(self, dim: int = 64):
        self.dim = dim
        self.calls = 0
        self.texts_encoded = 0

    def words(self, text: str) -> list[str]:
        return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self.words(text):
                digest = hashlib.md5(word.encode()).digest()
                out[row, digest[0] % self.dim] += 1.0 if digest[1] % 2 else -1.0
        out[:, 0] += 1e-3  # no zero vectors
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def _word_vector(self, word: str) -> np.ndarray:
        digest = hashlib.md5(word.encode()).digest()
        vector = np.zeros(self.dim, dtype=np.float32)
        vector[digest[0] % self.dim] = 1.0 if digest[1] % 2 else -1.0
        return vector

    def encode_with_sentences(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                              ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One pass like the real encoder's (index/embed.py): each sentence's vector pools the "token"
        vectors (here: its words' hashes) inside its span of the chunk text; no words: the chunk's vector."""
        chunk_vectors = self.encode(texts)
        sentence_vectors = []
        for text, text_spans, chunk_vector in zip(texts, spans, chunk_vectors, strict=True):
            words = [(m.start(), m.end(), _stem(m.group())) for m in re.finditer(r"[a-z0-9]+", text.lower())
                     if m.group() not in _STOP]
            out = np.zeros((len(text_spans), self.dim), dtype=np.float32)
            for i, (start, end) in enumerate(text_spans):
                inside = [self._word_vector(w) for a, b, w in words if a >= start and b <= end]
                if inside:
                    out[i] = np.sum(inside, axis=0)
                    out[i, 0] += 1e-3
                    out[i] /= np.linalg.norm(out[i])
                else:
                    out[i] = chunk_vector
            sentence_vectors.append(out)
        return chunk_vectors, sentence_vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def make_assistant(tmp_path_factory, encoder=None, settings=None, articles: dict[str, str] | None = None,
                   location=None):
    """A fresh tiny index (fake encoder) over `articles` (file name -> text; default NEWS_ARTICLES) and an
    Assistant over it, at `location` (a folder or store URI; default a new temporary folder)."""
    from assistant.engine import Assistant
    from index.ingest import build_index

    encoder = encoder or FakeEncoder()
    corpus = tmp_path_factory.mktemp("corpus")
    for name, text in (articles or NEWS_ARTICLES).items():
        (corpus / name).write_text(text)
    location = location or tmp_path_factory.mktemp("index")
    build_index([str(corpus)], location, encoder)
    return Assistant.load(location, encoder=encoder, settings=settings)


# Three small dated news articles that several test modules index with the fake encoder.
NEWS_ARTICLES = {
    "ibm.md": """---
id: ibm
title: IBM leaves the face recognition market
source: Ledger Wire
published_at: 2020-06-08
url: https://ledger.example/ibm
---
IBM said it will no longer offer general purpose facial recognition software. Chief executive Arvind Krishna
wrote to members of Congress about racial profiling. The company said police use deserved a national dialogue.
""",
    "amazon.md": """---
id: amazon
title: Amazon pauses police use of Rekognition
source: Harbor Times
published_at: 2020-06-10
---
Amazon announced a one year moratorium on police use of its Rekognition software. The company asked
Congress to pass rules for the technology. Civil liberties groups said a pause was not enough.
""",
    "weather.md": """---
id: weather
title: Storms expected along the coast
source: Harbor Times
published_at: 2021-03-02
---
Forecasters expect heavy rain and strong winds along the coast on Friday. Residents were told to secure
outdoor furniture. Ferries may be cancelled if gusts exceed sixty miles per hour.
""",
}


def hand_model():
    """A fixed answer model for tests of the engine's mechanics, independent of the shipped fitted one:
    the session-2 hand weights (similarity and keyword overlap, then rank and answer kind) as logits.
    It answers when 0.7 x similarity + 0.3 x overlap reaches 0.3 (the hashing encoder's similarities run
    lower than the real model's)."""
    from assistant.answer_model import AnswerModel, Logistic
    from assistant.evidence import QUESTION_FEATURES, SENTENCE_FEATURES

    def logistic(names, weights, intercept):
        return Logistic(names, np.zeros(len(names)), np.ones(len(names)),
                        np.array([weights.get(n, 0.0) for n in names]), intercept)

    sentence = logistic(SENTENCE_FEATURES, {"similarity": 5.5, "overlap": 3.5, "passage_rank": 1.0,
                                            "offers_kind": 1.5, "outside_passage": -2.0}, -5.0)
    support = logistic(QUESTION_FEATURES, {"best_similarity": 7.0, "top_passage_overlap": 3.0}, -3.0)
    return AnswerModel(sentence, support, support_threshold=0.5, min_relative=0.75, min_probability=0.0,
                       min_relative_other=0.75, fitted_on="tests: fixed hand weights")


# --- the UI's tiny index: the news articles plus one full of HTML and script payloads ---------------------

HOSTILE_TITLE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> Zanzibar payloads'
HOSTILE_BODY = (
    'Zanzibar harbour cameras recorded <img src=x onerror="window.__xss=3"> every protest. '
    "Click [here](javascript:window.__xss=4) for **bold** claims. <script>window.__xss=6</script> "
    'The cameras used <svg onload="window.__xss=7"></svg> facial recognition on crowds. '
    "</div></div><style>body{display:none}</style> Officers said $$x^2$$ and `code` and &lt;b&gt; "
    "and # not a heading."
)
UI_ARTICLES = {
    **NEWS_ARTICLES,
    "hostile.json": __import__("json").dumps({"id": "hostile", "title": HOSTILE_TITLE, "source": "<b>Evil</b> Source",
                                              "published_at": "2020-06-09", "url": "javascript:window.__xss=5",
                                              "body": HOSTILE_BODY}),
}
NEWEST = "2021-03-02"  # the newest article of UI_ARTICLES: the default "as of" of this archive


def fake_settings(**changes):
    """Fixed answer weights (hand_model), not the shipped fitted model; `changes` override AskSettings."""
    from assistant.engine import AskSettings

    return AskSettings(**({"answer_model": hand_model()} | changes))


def write_corpus(folder, articles: dict[str, str] | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (UI_ARTICLES if articles is None else articles).items():
        (folder / name).write_text(text)
    return folder


def make_ui_assistant(tmp_path_factory, encoder=None, settings=None, articles: dict[str, str] | None = None):
    """make_assistant over UI_ARTICLES (or `articles`) with the fixed hand-weighted answer model."""
    return make_assistant(tmp_path_factory, encoder=encoder, settings=settings or fake_settings(),
                          articles=UI_ARTICLES if articles is None else articles)


DEFAULT_FORM = {"sources": [], "date_from": "", "date_to": "", "k": 5, "mode": "hybrid", "max_sentences": 3,
                "as_of": "", "time_aware": True}


def turn(events, question: str, session=None, **options):
    """Both steps of a chat turn, as the app chains them: (session, outputs of Events.answer)."""
    from ui.conversations import Session

    session = session if session is not None else Session()
    events.push(session, question, DEFAULT_FORM | options)
    return session, events.answer(session)


def is_skip(value) -> bool:
    import gradio as gr

    return value == gr.skip()
