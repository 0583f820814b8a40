"""The answer stage: answer kinds, candidate features, the fitted models' file, abstention reasons, and
one fact cited from every article that states it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.abstain import reason
from assistant.answer_model import (
    MODEL_PATH,
    REPEAT_MODEL_PATH,
    ModelFileError,
    load_model,
    load_repeat_model,
    read_model,
    read_repeat_model,
)
from assistant.answer_type import expected_type, offers, withholds
from assistant.engine import AskSettings, Assistant
from assistant.evidence import QUESTION_FEATURES, SENTENCE_FEATURES, question_terms, reads_as_sentence
from assistant.results import Filters, Passage
from assistant.summarize import REPEAT_FEATURES
from index.ingest import build_index
from tests.fakes import FakeEncoder, hand_model


@pytest.mark.parametrize(("question", "kind"), [
    ("How much did the club pay for the striker?", "amount"),
    ("What fee did Norwich pay?", "amount"),
    ("How many people does the grocer employ?", "number"),
    ("When will the car go on sale?", "date"),
    ("Who replaced the chairman?", "person"),
    ("Where was the pioneer born?", "place"),
    ("Which company bought the theatre?", "organisation"),
    ("Why did the chief executive step down?", "reason"),
    ("What did the minister say about the plan?", None),
])
def test_the_asked_for_kind(question, kind):
    assert expected_type(question) == kind


def test_a_sentence_offers_the_kind_only_with_something_new():
    assert offers("The club paid £8m for the striker.", "amount", "How much did the club pay?")
    assert not offers("The club paid an undisclosed fee.", "amount", "How much did the club pay?")
    assert offers("He resigned because of the row over funding.", "reason", "Why did he resign?")
    assert not offers("He resigned on Monday.", "reason", "Why did he resign?")
    assert offers("It opens in March 2005.", "date", "When does it open?")
    assert not offers("It opens in 2005.", "date", "Does it open in 2005?")  # nothing the question lacks
    assert withholds("Norwich signed him for an undisclosed fee.") and not withholds("Norwich paid £2m.")


def test_question_terms_split_topic_entities_from_the_focus():
    asked = question_terms("How much did Ask Jeeves pay for Bloglines?")
    assert asked.kind == "amount" and "Ask Jeeves" in asked.entities
    assert {"ask", "jeev", "bloglin"} <= asked.entity_terms or {"jeev"} <= asked.entity_terms
    assert "pay" in asked.focus_terms and not asked.focus_terms & asked.entity_terms


def _passage(text: str, title: str = "Ask Jeeves buys Bloglines") -> Passage:
    return Passage(0, 0, "a", title, "Wire", None, None, text, 0, len(text), 1.0)


def test_an_abstention_says_what_the_articles_lack():
    asked = question_terms("How much did Ask Jeeves pay for Bloglines?")
    said = reason(asked, "How much did Ask Jeeves pay for Bloglines?",
                  [_passage("Ask Jeeves has bought Bloglines, a popular feed reader.")], Filters())
    assert said.startswith("The articles mention Ask Jeeves") and said.endswith("but not the amount.")
    open_question = question_terms("What did Bloglines say about its servers?")
    said = reason(open_question, "What did Bloglines say about its servers?",
                  [_passage("Bloglines has 1.5 million users.")], Filters())
    assert said == "The articles mention Bloglines but not “servers”."
    assert reason(asked, "How much?", [], Filters(sources=("Nowhere",))) == "No article matches your filters."


def test_an_abstention_names_the_missing_substance_not_the_questions_frame():
    question = "Which major US retailer announced this week it is slashing prices on clothing?"
    said = reason(question_terms(question), question,
                  [_passage("US shoppers face higher prices on clothing.", title="Prices rise")], Filters())
    assert "“retailer”" in said and "“announced”" in said
    assert "major" not in said and "week" not in said


def test_the_shipped_model_matches_the_features_and_was_fit_on_dev():
    model = load_model()
    assert model.sentence.names == SENTENCE_FEATURES and model.support.names == QUESTION_FEATURES
    assert 0.0 < model.support_threshold < 1.0 and "dev" in model.fitted_on
    probabilities = model.sentence.predict(np.zeros((3, len(SENTENCE_FEATURES))))
    assert probabilities.shape == (3,) and np.all((probabilities > 0) & (probabilities < 1))


def test_a_model_file_of_other_features_is_refused_with_a_way_out(tmp_path):
    data = json.loads(MODEL_PATH.read_text())
    data["sentence"]["features"] = data["sentence"]["features"][:-1]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="refit with 'python -m eval.fit_answers'"):
        read_model(path)
    with pytest.raises(ModelFileError, match="no answer model"):
        read_model(tmp_path / "missing.json")



def test_the_shipped_repeat_screen_matches_its_features_and_spares_only_unlikely_pairs(tmp_path):
    screen = load_repeat_model()
    assert screen.pair.names == REPEAT_FEATURES and 0.0 < screen.skip_below < 0.5 and "dev" in screen.fitted_on
    # (pooled cosine, overlap coefficient, jaccard, log shared terms, log gap, length ratio², log longer length)
    alike = np.array([0.95, 1.0, 0.9, np.log(8), np.log(2), 0.0, np.log(120)])  # one sentence, reworded
    apart = np.array([0.71, 0.15, 0.08, np.log(2), np.log(5), 0.3, np.log(200)])  # two words in common
    likely, unlikely = screen.predict(np.stack([alike, apart]))
    assert likely > screen.skip_below > unlikely  # near-identical wording is judged afresh; little overlap is not
    data = json.loads(REPEAT_MODEL_PATH.read_text())
    data["skip_below"] = 2
    path = tmp_path / "repeat.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="skip_below must be a probability"):
        read_repeat_model(path)
    data["skip_below"], data["pair"]["features"] = 0.1, ["pooled_cosine"]
    path.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="refit with 'python -m eval.fit_redundancy'"):
        read_repeat_model(path)


def test_lines_that_are_not_sentences_are_never_quoted(tmp_path):
    """A web page's headline, caption, sign-up prompt and dateline sit in its body as lines of their own;
    an answer quotes sentences (and list items: a result or a winner), never those."""
    body = ("Harbour City Wire —\n\nPhotos of the storm that closed the harbour bridge\n\n"
            "The harbour bridge closed on Monday as the storm brought winds of 90 mph.\n\n"
            "Sign up for our harbour bridge newsletter today\n\n"
            "- Bridge closed to traffic for 14 hours on Monday")
    articles = tmp_path / "articles.jsonl"
    articles.write_text(json.dumps({"id": "storm", "title": "Storm closes the harbour bridge", "source": "Wire",
                                    "body": body}) + "\n")
    encoder = FakeEncoder()
    build_index([str(articles)], tmp_path / "idx", encoder)
    engine = Assistant.load(tmp_path / "idx", encoder=encoder,
                            settings=AskSettings(answer_model=hand_model(), abstain_threshold=0.0))
    try:
        _, evidence = engine.evidence("Why did the harbour bridge close during the storm?")
        assert [c.text for c in evidence.candidates] == [
            "The harbour bridge closed on Monday as the storm brought winds of 90 mph.",
            "- Bridge closed to traffic for 14 hours on Monday"]
    finally:
        engine.close()
    assert not reads_as_sentence("Tokyo, Japan CNN —") and reads_as_sentence("He said “no.”")
    assert reads_as_sentence("12 Patty Schnyder (Switzerland)") and not reads_as_sentence("2022 in pictures")


SAME_STORY = {
    "wire.md": "---\nid: wire\ntitle: Harbour bridge reopens\nsource: Wire\n---\n"
               "The harbour bridge reopened to traffic on Tuesday after eight months of repairs. "
               "Engineers replaced every cable on the span. The council thanked residents for their patience.",
    "gazette.md": "---\nid: gazette\ntitle: Bridge traffic returns\nsource: Gazette\n---\n"
                  "Buses were the first vehicles across the span in the morning. "
                  "The harbour bridge reopened to traffic on Tuesday after eight months of repairs. "
                  "Shops near the bridge expect more customers.",
    "other.md": "---\nid: other\ntitle: Ferry timetable\nsource: Wire\n---\n"
                "The ferry timetable changes in June. Evening crossings will run every hour.",
}


@pytest.fixture(scope="module")
def same_story_engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("story")
    for name, text in SAME_STORY.items():
        (folder / name).write_text(text)
    encoder = FakeEncoder()
    index_dir = tmp_path_factory.mktemp("index") / "idx"
    build_index([str(folder)], index_dir, encoder)
    settings = AskSettings(answer_model=hand_model(), abstain_threshold=0.0)
    engine = Assistant.load(index_dir, encoder=encoder, settings=settings)
    yield engine
    engine.close()


def test_one_fact_from_two_articles_is_shown_once_and_cited_twice(same_story_engine):
    answer = same_story_engine.ask("When did the harbour bridge reopen to traffic after the repairs?")
    texts = [s.text for s in answer.sentences]
    reopened = "The harbour bridge reopened to traffic on Tuesday after eight months of repairs."
    assert texts.count(reopened) == 1
    sentence = answer.sentences[texts.index(reopened)]
    assert {sentence.article_id, *(a.article_id for a in sentence.also)} == {"wire", "gazette"}
    assert f"{reopened} [{sentence.citation}][{sentence.also[0].citation}]" in answer.text
    for support in sentence.also:  # each citation keeps its own exact offsets and highlight
        assert same_story_engine.article(support.article_id).body[support.start:support.end] == support.text
        cited = next(c for c in answer.cited if c.number == support.citation)
        assert any(cited.passage.text[s:e] == support.text for s, e in cited.highlights)


def test_an_abstention_carries_its_reason(same_story_engine):
    never_sure = AskSettings(answer_model=hand_model(), abstain_threshold=1.01)
    engine = Assistant(same_story_engine.store, same_story_engine.encoder, never_sure)
    answer = engine.ask("How much did the harbour bridge repairs cost?")
    assert answer.abstained and answer.reason and answer.reason in answer.text
    assert answer.reason == "The articles mention “harbour”, “bridge” and “repairs” but not the amount."
    filtered = engine.ask("How much did the bridge cost?", filters=Filters(sources=("Nobody",)))
    assert filtered.abstained and filtered.reason == "No article matches your filters."
    engine.snapshot.close()
