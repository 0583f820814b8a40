"""Conversations without the model: reference resolution, standalone questions, refusals of nonsense and
other languages, unseen sentences first, and briefings of a news window (fake encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.converse import UNSEEN_MIN_SHARE, Turn, resolve
from assistant.engine import Assistant
from assistant.evidence import Candidate
from assistant.language import other_language, refusal
from assistant.summarize import SummarySettings, choose
from index.ingest import build_index
from tests.fakes import NEWS_ARTICLES, FakeEncoder


def _turn(question: str, answer: str = "") -> Turn:
    return Turn(question, question, answer)


@pytest.mark.parametrize(("previous", "answer", "follow_up", "read_as"), [
    ("Who is Joy Buolamwini?", "The study was written by Joy Buolamwini and Timnit Gebru.", "What did she find?",
     "What did Joy Buolamwini find?"),
    ("What did Brad Smith announce in June 2020?", "Microsoft will not sell it, President Brad Smith said.",
     "What did he say?", "What did Brad Smith say?"),
    ("Who was Robert Williams?", "Robert Williams was arrested in January.", "Why was he arrested?",
     "Why was Robert Williams arrested?"),
    ("What did IBM announce?", "IBM said it will no longer offer the software.", "What did the company tell Congress?",
     "What did IBM tell Congress?"),
    ("What did Boston decide about facial recognition?", "The city council voted to ban it.",
     "When does the ban take effect?", "When does Boston’s ban take effect?"),
    ("Why did the US supermarket chain Winn-Dixie file for bankruptcy?", "Winn-Dixie filed for protection.",
     "Who is its new chief executive?", "Who is Winn-Dixie’s new chief executive?"),
    ("What did IBM announce?", "IBM left the market.", "And Amazon?", "What did Amazon announce?"),
])
def test_a_reference_becomes_the_entity_it_names(previous, answer, follow_up, read_as):
    resolved = resolve(follow_up, [_turn(previous, answer)])
    assert resolved.is_follow_up
    assert resolved.query == read_as
    assert resolved.note == f"read as: {read_as}"


def test_the_person_pronoun_skips_a_company_named_later():
    history = [_turn("Who is Joy Buolamwini?", "Joy Buolamwini studied face analysis."),
               _turn("What did Amazon say about the study?", "Amazon disputed the findings.")]
    assert resolve("What did she say in reply?", history).query == "What did Joy Buolamwini say in reply?"


@pytest.mark.parametrize("question", [
    "What is facial recognition?",  # its own content words
    "Did Microsoft say when it would sell to police?",  # "it" is Microsoft, named in the question
    "Whose Blue Gene/L machine knocked Japan off the top of the supercomputer chart?",
])
def test_a_question_with_its_own_topic_stands_alone(question):
    resolved = resolve(question, [_turn("What did IBM announce?", "IBM said it would leave the market.")])
    assert not resolved.is_follow_up
    assert resolved.query == question


def test_expansion_never_snowballs_across_turns():
    history = [_turn("What did Amazon announce about Rekognition?", "Amazon paused police use of Rekognition.")]
    for question in ("Why did it do that?", "What did it say?", "When did it decide?"):
        resolved = resolve(question, history)
        history.append(Turn(question, resolved.query, "Amazon said so on Tuesday."))
    assert resolved.query == "When did Amazon decide?"
    assert len(resolved.query.split()) == len("When did it decide?".split())


def test_an_elliptical_question_borrows_the_last_topic_only():
    resolved = resolve("Why?", [_turn("What did IBM announce?", "IBM left.")])
    assert resolved.is_follow_up and resolved.query == "Why? (about IBM)"


@pytest.mark.parametrize(("question", "language"), [
    ("Qui est Joy Buolamwini ?", "French"), ("Wer ist Joy Buolamwini?", "German"),
    ("¿Quién es Joy Buolamwini?", "Spanish"), ("Was hat IBM angekündigt?", "German"),
    ("Chi è Joy Buolamwini?", "Italian"), ("Кто такая Джой Буоламвини?", "Cyrillic"),
])
def test_another_language_is_named(question, language):
    assert language in other_language(question)
    assert "index holds English articles" in refusal(question)


@pytest.mark.parametrize("question", ["Who is Joy Buolamwini?", "What did Le Monde report about IBM?",
                                      "Did the NHS approve it?", "Who is Krzyzewski?",
                                      "Why did Chloé de la Cruz resign?"])
def test_english_questions_pass(question):
    assert refusal(question) == ""


@pytest.mark.parametrize("question", ["x" * 900, "asdkjh qwpoeiru zxcmvn", "What is asdkjh?", "!!!???", "zzzz"])
def test_gibberish_is_refused(question):
    assert refusal(question)


def _candidate(i: int) -> Candidate:
    return Candidate(0, "a", i, i * 10, i * 10 + 5, f"sentence {i}", np.eye(3, dtype=np.float32)[i])


def test_unseen_sentences_first_unless_they_are_only_weak_support():
    def pick(probabilities, shown=frozenset({("a", 0)})):
        chosen = choose([_candidate(i) for i in range(len(probabilities))], np.array(probabilities),
                        SummarySettings(max_sentences=1), min_relative=0.0, min_probability=0.0,
                        shown_before=shown, unseen_min_share=UNSEEN_MIN_SHARE)
        return chosen[0].candidate.sentence_index

    assert pick([1.0, 0.8, 0.2]) == 1
    assert pick([1.0, 0.1]) == 0  # the shown sentence is the only real support: it may be repeated
    assert pick([1.0, 0.8, 0.2], shown=frozenset()) == 0


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in NEWS_ARTICLES.items():
        (folder / name).write_text(text)
    index_dir = tmp_path_factory.mktemp("index")
    encoder = FakeEncoder()
    build_index([str(folder)], index_dir, encoder)
    from assistant.engine import AskSettings
    from tests.fakes import hand_model

    assistant = Assistant.load(index_dir, encoder=encoder, settings=AskSettings(answer_model=hand_model()))
    yield assistant
    assistant.close()


def test_a_follow_up_answers_with_sentences_not_shown_before(engine):
    first = engine.ask("What did Amazon announce about Rekognition?")
    follow = engine.ask("What did the company ask Congress?", [first])
    assert follow.query == "What did Amazon ask Congress?"
    assert not follow.abstained
    before = {(s.article_id, s.start) for s in first.sentences}
    assert {(s.article_id, s.start) for s in follow.sentences} - before


@pytest.mark.parametrize(("question", "words"), [
    ("x" * 900, "not look like words"), ("Qui est Arvind Krishna ?", "index holds English articles")])
def test_nonsense_abstains_with_its_reason_even_mid_conversation(engine, question, words):
    first = engine.ask("What did Amazon announce about Rekognition?")
    answer = engine.ask(question, [first])
    assert answer.abstained and answer.sentences == () and answer.passages == ()
    assert words in answer.reason and words in answer.text


def test_only_common_words_abstain_unless_the_conversation_gives_them_a_topic(engine):
    alone = engine.ask("what is it?")
    assert alone.abstained and "only common words" in alone.reason
    first = engine.ask("What did Amazon announce about Rekognition?")
    assert engine.ask("what is it?", [first]).query == "what is Amazon?"


def test_api_history_carries_the_sentences_shown(engine):
    first = engine.ask("What did Amazon announce about Rekognition?")
    turn = Turn.from_dict(first.to_dict())
    assert turn.shown == tuple((s.article_id, s.start, s.end) for s in first.sentences)
    assert turn.query == first.query


def _briefing_engine(tmp_path, articles):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, (day, title, text) in articles.items():
        (folder / f"{name}.md").write_text(f"---\nid: {name}\ntitle: {title}\nsource: {name.upper()} Post\n"
                                           f"published_at: {day}\n---\n{text}\n")
    encoder = FakeEncoder()
    build_index([str(folder)], tmp_path / "idx", encoder)
    return Assistant.load(tmp_path / "idx", encoder=encoder)


STORM = ("Forecasters expect heavy rain and strong winds along the coast on Friday, with gusts that could reach "
         "sixty miles per hour near the harbor. Residents were told to secure outdoor furniture and to avoid the "
         "sea front during the afternoon high tide. Ferries may be cancelled if the gusts grow stronger.")
WEEK = {
    "storm-a": ("2022-06-17", "Storm warning", STORM),
    "storm-b": ("2022-06-18", "Storm on the way", "By a staff writer. " + STORM),  # a near-duplicate
    "tram": ("2022-06-16", "Tram line approved", "The city council approved the new tram line to the airport on "
             "Thursday after a long debate about its cost and the route through the old town."),
    "zoo": ("2022-06-15", "Zoo giraffe", "The city zoo welcomed a baby giraffe on Wednesday morning, and keepers "
            "named her Daisy after a vote by local school children."),
    "budget": ("2022-06-14", "School budget", "Teachers protested outside the town hall against cuts to the "
               "school budget for next year, which the mayor defended as necessary."),
    "old": ("2022-05-02", "Old news", "An old bridge over the river was repainted in bright green by volunteers "
            "over the long weekend in early May."),
}


def test_a_briefing_lists_the_window_stories_newest_first_once_each(tmp_path):
    engine = _briefing_engine(tmp_path, WEEK)
    answer = engine.ask("What happened in the past week?", as_of="2022-06-20", k=3)
    assert answer.kind == "briefing" and not answer.abstained
    start, end = answer.time_window
    assert all(start <= c.passage.published_at <= end for c in answer.cited)
    dates = [s.published_at for s in answer.sentences]
    assert dates == sorted(dates, reverse=True)
    assert len(answer.stories) == 3 and answer.more_stories == 1 and answer.window_articles == 5
    storm = [story for story in answer.stories if "storm-a" in story.article_ids or "storm-b" in story.article_ids]
    assert len(storm) == 1 and set(storm[0].article_ids) == {"storm-a", "storm-b"}  # one story, two outlets
    assert "(2 articles)" in answer.text and "1 more story" in answer.text
    for sentence in answer.sentences:
        assert engine.article(sentence.article_id).body[sentence.start:sentence.end] == sentence.text
    assert "old" not in {a for story in answer.stories for a in story.article_ids}
    engine.close()


@pytest.mark.parametrize("question", ["What's new?", "Latest news", "What happened yesterday?",
                                      "What happened in June 2022?"])
def test_topic_less_time_questions_are_briefings(tmp_path, question):
    engine = _briefing_engine(tmp_path, WEEK)
    answer = engine.ask(question, as_of="2022-06-19")
    assert answer.kind == "briefing" and answer.sentences
    assert answer.time_note
    engine.close()


def test_latest_on_a_topic_lists_its_articles_newest_first(tmp_path):
    engine = _briefing_engine(tmp_path, {
        "first": ("2020-06-10", "Council and trams", "The city council first debated a tram line in 2020."),
        "second": ("2022-06-16", "Tram approved", "The city council approved the tram line on Thursday."),
        "other": ("2022-06-18", "Zoo", "The zoo welcomed a giraffe named Daisy on Saturday.")})
    answer = engine.ask("Latest news about the city council tram line", as_of="2022-06-20")
    assert answer.kind == "briefing"
    assert [s.article_id for s in answer.sentences][:2] == ["second", "first"]
    engine.close()


def test_a_briefing_on_undated_articles_says_why_it_cannot(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.md").write_text("---\nid: a\ntitle: a\n---\nThe council approved the tram line.\n")
    build_index([str(folder)], tmp_path / "idx", FakeEncoder())
    engine = Assistant.load(tmp_path / "idx", encoder=FakeEncoder())
    answer = engine.ask("What happened last week?")
    assert answer.abstained and "no publication dates" in answer.reason
    engine.close()


def test_the_cli_prints_a_briefing_one_story_a_line(tmp_path, capsys):
    from assistant.ask_command import format_answer

    engine = _briefing_engine(tmp_path, WEEK)
    text = format_answer(engine.ask("What happened in the past week?", as_of="2022-06-20"))
    assert text.splitlines()[0].startswith("Main stories")
    assert text.count("(2022-06-") >= 3
    engine.close()
