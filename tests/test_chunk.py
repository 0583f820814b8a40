"""Chunking: whole sentences, a token budget, one sentence of overlap, offsets into the body."""

from __future__ import annotations

from itertools import pairwise

import pytest

from index.articles import Sentence
from index.chunk import ChunkSettings, embedding_text, make_chunks
from index.sentences import split_sentences


def fake_sentences(counts: list[int]) -> tuple[str, list[Sentence]]:
    """A body of numbered sentences, sentence i having counts[i] words."""
    parts = [" ".join([f"s{i}w{j}" for j in range(n - 1)] + [f"end{i}."]) for i, n in enumerate(counts)]
    body, sentences = "", []
    for part in parts:
        if body:
            body += " "
        sentences.append(Sentence(len(body), len(body) + len(part), part))
        body += part
    return body, sentences


def check_invariants(body, sentences, counts, chunks, settings):
    assert chunks[0].first_sentence == 0 and chunks[-1].last_sentence == len(sentences) - 1
    for position, chunk in enumerate(chunks):
        assert chunk.position == position
        assert chunk.text == body[chunk.start:chunk.end]
        assert chunk.start == sentences[chunk.first_sentence].start
        assert chunk.end == sentences[chunk.last_sentence].end
        assert chunk.n_tokens == sum(counts[chunk.first_sentence:chunk.last_sentence + 1])
        if chunk.last_sentence > chunk.first_sentence:  # only a lone over-long sentence may pass the budget
            assert chunk.n_tokens <= settings.max_tokens
    for before, after in pairwise(chunks):
        assert after.last_sentence > before.last_sentence  # every chunk brings a new sentence
        assert after.first_sentence <= before.last_sentence + 1  # no sentence is skipped


def test_budget_and_one_sentence_overlap():
    counts = [4, 5, 6, 3, 7, 2, 5, 4, 6, 3]
    body, sentences = fake_sentences(counts)
    settings = ChunkSettings(max_tokens=15)
    chunks = make_chunks(body, sentences, counts, settings)
    check_invariants(body, sentences, counts, chunks, settings)
    assert [(c.first_sentence, c.last_sentence) for c in chunks] == [(0, 2), (2, 3), (3, 5), (5, 7), (7, 9)]
    for before, after in pairwise(chunks):
        assert after.first_sentence == before.last_sentence  # exactly one shared sentence
        shared = sentences[after.first_sentence].text
        assert before.text.endswith(shared) and after.text.startswith(shared)


def test_no_overlap_setting():
    counts = [5, 5, 5, 5, 5]
    body, sentences = fake_sentences(counts)
    settings = ChunkSettings(max_tokens=10, overlap_sentences=0)
    chunks = make_chunks(body, sentences, counts, settings)
    assert [(c.first_sentence, c.last_sentence) for c in chunks] == [(0, 1), (2, 3), (4, 4)]
    check_invariants(body, sentences, counts, chunks, settings)


def test_over_long_sentence_is_a_chunk_of_its_own():
    counts = [3, 50, 3, 3]
    body, sentences = fake_sentences(counts)
    settings = ChunkSettings(max_tokens=10)
    chunks = make_chunks(body, sentences, counts, settings)
    check_invariants(body, sentences, counts, chunks, settings)
    assert [(c.first_sentence, c.last_sentence) for c in chunks] == [(0, 0), (1, 1), (2, 3)]
    assert chunks[1].n_tokens == 50


def test_overlap_is_dropped_when_the_next_sentence_would_not_fit_beside_it():
    # chunk (0, 1) ends with a 10-token sentence; 10 + 10 > 15, so the next chunk cannot start with it
    counts = [5, 10, 10]
    body, sentences = fake_sentences(counts)
    settings = ChunkSettings(max_tokens=15)
    chunks = make_chunks(body, sentences, counts, settings)
    check_invariants(body, sentences, counts, chunks, settings)
    assert [(c.first_sentence, c.last_sentence) for c in chunks] == [(0, 1), (2, 2)]


def test_short_article_is_one_chunk_and_empty_is_none():
    counts = [3, 4]
    body, sentences = fake_sentences(counts)
    (chunk,) = make_chunks(body, sentences, counts, ChunkSettings())
    assert (chunk.start, chunk.end, chunk.text) == (0, len(body), body)
    assert make_chunks("", [], [], ChunkSettings()) == []


def test_counts_must_match_sentences():
    body, sentences = fake_sentences([3, 4])
    with pytest.raises(ValueError, match="one token count per sentence"):
        make_chunks(body, sentences, [3], ChunkSettings())


def test_offsets_across_paragraphs():
    body = "First paragraph opens. It goes on.\n\nSecond paragraph starts here. It ends here."
    sentences = split_sentences(body)
    counts = [len(s.text.split()) for s in sentences]
    settings = ChunkSettings(max_tokens=7)
    chunks = make_chunks(body, sentences, counts, settings)
    check_invariants(body, sentences, counts, chunks, settings)
    assert any("\n\n" in c.text for c in chunks)  # chunks follow sentences, not paragraphs


def test_embedding_text_carries_the_title():
    assert embedding_text("Title", "Chunk.", ChunkSettings()) == "Title\nChunk."
    assert embedding_text("", "Chunk.", ChunkSettings()) == "Chunk."
    assert embedding_text("Title", "Chunk.", ChunkSettings(title_in_embedding=False)) == "Chunk."


@pytest.mark.model
def test_real_tokenizer_budget(real_encoder):
    """Chunks sized by the model's own tokens stay inside its window with the title in front."""
    paragraph = ("The U.S. Federal Reserve held interest rates at 5.25% on Wednesday, Mr. Powell said. "
                 "\"Inflation is still too high,\" he told reporters in Washington. "
                 "Markets, which had expected a cut of 0.25 points, fell 1.2% by the close. ")
    body = "\n\n".join(paragraph.strip() for _ in range(12))
    title = "Fed holds rates as inflation lingers"
    sentences = split_sentences(body)
    counts = real_encoder.count_tokens([s.text for s in sentences])
    settings = ChunkSettings()
    chunks = make_chunks(body, sentences, counts, settings)
    check_invariants(body, sentences, counts, chunks, settings)
    assert len(chunks) > 1
    for chunk in chunks:
        assert real_encoder.count_tokens([chunk.text])[0] <= settings.max_tokens
        with_title = real_encoder.count_tokens([embedding_text(title, chunk.text, settings)])[0]
        assert with_title + 2 <= real_encoder.max_tokens  # [CLS] and [SEP]: nothing is truncated
