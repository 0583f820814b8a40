"""Engine behaviour with the fake encoder: fusion, grouping, selection, citations, abstention, follow-ups."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.engine import AskSettings, Assistant
from assistant.evidence import Candidate
from assistant.fuse import reciprocal_rank_fusion
from assistant.group import article_ranking, fold_near_duplicates, group_by_article
from assistant.results import Filters, Passage
from assistant.summarize import REPEAT_FEATURES, Chosen, SummarySettings, choose, pair_features, reading_order
from index.ingest import build_index
from tests.conftest import BACKENDS, location_for
from tests.fakes import NEWS_ARTICLES, FakeEncoder, hand_model, make_assistant

ARTICLES = {
    **NEWS_ARTICLES,
    "long.md": "---\nid: long\ntitle: A long report on surveillance cameras\nsource: Civic Review\n"
               "published_at: 2020-07-01\n---\n"
    + " ".join(f"Surveillance camera number {i} recorded police activity in district {i}." for i in range(60)),
}


# The engine tests run on every backend (a conformance suite): the same answers from each store.
@pytest.fixture(scope="module", params=BACKENDS)
def assistant(request, tmp_path_factory):
    location = location_for(request.param, request, tmp_path_factory.mktemp("index"))
    engine = make_assistant(tmp_path_factory, settings=AskSettings(answer_model=hand_model()), articles=ARTICLES,
                            location=location)
    yield engine
    engine.close()


@pytest.fixture
def new_engine(index_location, tmp_path):
    """new_engine(files) -> an Assistant (fake encoder) over a fresh index of these files on the test's backend."""
    engines = []

    def make(files: dict[str, str]) -> Assistant:
        folder = tmp_path / "in"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        encoder = FakeEncoder()
        build_index([str(folder)], index_location, encoder)
        engines.append(Assistant.load(index_location, encoder=encoder,
                                     settings=AskSettings(answer_model=hand_model())))
        return engines[-1]

    yield make
    for engine in engines:
        engine.close()


def test_rrf_rewards_agreement_and_breaks_ties_by_id():
    fused = reciprocal_rank_fusion([np.array([1, 2, 3]), np.array([4, 2, 3])])
    order = [item for item, _ in fused]
    assert order[:2] == [2, 3]  # found by both lists beats first in one
    assert order.index(3) < order.index(1)
    assert fused == sorted(fused, key=lambda p: (-p[1], p[0]))
    tie = reciprocal_rank_fusion([np.array([7]), np.array([5])])
    assert [i for i, _ in tie] == [5, 7]


def _passage(chunk_id: int, article_id: str, score: float) -> Passage:
    return Passage(chunk_id, chunk_id, article_id, "t", "s", None, None, "x", 0, 1, score)


def test_grouping_keeps_one_article_from_crowding_out_the_rest():
    ranked = [_passage(i, "long", 10 - i) for i in range(6)] + [_passage(10, "b", 3), _passage(11, "c", 2)]
    top = group_by_article(ranked, k=4, per_article=2)
    assert article_ranking(top) == ["long", "b", "c"]
    assert sum(p.article_id == "long" for p in top) == 2
    assert len(top) == 4
    assert [p.chunk_id for p in group_by_article(ranked, k=2, per_article=1)] == [0, 10]
    assert [p.chunk_id for p in group_by_article(ranked, k=3, per_article=0)] == [0, 1, 2]  # no cap
    interleaved = [_passage(1, "a", 9), _passage(2, "b", 8), _passage(3, "a", 7)]
    assert [p.chunk_id for p in group_by_article(interleaved, k=3)] == [1, 3, 2]  # an article's passages together


def _candidate(i: int, article: str, start: int, vector) -> Candidate:
    return Candidate(0, article, i, start, start + 10, f"sentence {i} " * 3, np.asarray(vector, dtype=np.float32))


def _choose(cands, probabilities, settings, **kw):
    floors = {"min_relative": 0.5, "min_probability": 0.0} | kw
    return choose(cands, np.asarray(probabilities), settings, **floors)


def test_one_fact_is_shown_once_and_cited_from_every_article_that_states_it():
    same, near, other = [1.0, 0.0, 0.0], [0.99, 0.141, 0.0], [0.0, 0.0, 1.0]
    cands = [_candidate(0, "a", 100, same), _candidate(1, "b", 0, near), _candidate(2, "c", 50, other)]
    chosen = _choose(cands, [0.9, 0.89, 0.8], SummarySettings(max_sentences=3))
    assert [(c.candidate.article_id, c.candidate.sentence_index) for c in chosen] == [("a", 0), ("c", 2)]
    assert [o.article_id for o in chosen[0].also] == ["b"] and chosen[1].also == ()


def test_close_pooled_pairs_are_embedded_again_only_when_they_share_words():
    """Pooled vectors of one article's sentences sit close; a close pair is judged on fresh embeddings,
    but only when the two share at least repeat_min_shared_terms content words (no dev repeat shared fewer)."""
    close = [[1.0, 0.0, 0.0], [0.95, 0.312, 0.0]]
    texts = ["The minister resigned on Monday after the vote.", "Shares in the carmaker rose sharply.",
             "The minister resigned after losing the vote on Monday."]
    cands = [Candidate(0, "a", i, i * 60, i * 60 + len(t), t, np.asarray(close[min(i, 1)], dtype=np.float32))
             for i, t in enumerate(texts)]
    embedded: list[str] = []

    def embed(batch):
        embedded.extend(batch)
        return np.asarray([[1.0, 0.0] if "minister" in t else [0.0, 1.0] for t in batch], dtype=np.float32)

    chosen = _choose(cands[:2], [0.9, 0.8], SummarySettings(max_sentences=3), embed=embed)
    assert [c.candidate.sentence_index for c in chosen] == [0, 1] and embedded == []  # no word shared
    chosen = _choose([cands[0], cands[2]], [0.9, 0.8], SummarySettings(max_sentences=3), embed=embed)
    assert [c.candidate.sentence_index for c in chosen] == [0] and len(embedded) == 2  # one fact: once


class _OverlapScreen:
    """A pair screen that believes a repeat only when most of the shorter sentence's words recur."""

    skip_below = 0.5

    def __init__(self):
        self.rows: list[np.ndarray] = []

    def predict(self, rows):
        self.rows.extend(rows)
        column = REPEAT_FEATURES.index("overlap_coefficient")
        return (np.asarray(rows)[:, column] >= 0.6).astype(float)


def test_the_pair_screen_spares_fresh_embeddings_for_unlikely_repeats():
    """A close pair that shares words is embedded afresh only when the screen finds a repeat likely, and
    then both sentences go through the encoder in one run."""
    close = [[1.0, 0.0, 0.0], [0.95, 0.312, 0.0]]
    texts = ["The minister resigned on Monday after the vote in parliament.",
             "The minister praised the vote on the new hospital in Leeds.",
             "The minister resigned after losing the vote on Monday."]
    cands = [Candidate(0, "a", i, i * 70, i * 70 + len(t), t, np.asarray(close[min(i, 1)], dtype=np.float32))
             for i, t in enumerate(texts)]
    calls: list[list[str]] = []

    def embed(batch):
        calls.append(list(batch))
        return np.asarray([[1.0, 0.0] if "resigned" in t else [0.0, 1.0] for t in batch], dtype=np.float32)

    screen = _OverlapScreen()
    chosen = _choose(cands[:2], [0.9, 0.8], SummarySettings(max_sentences=3), embed=embed, screen=screen)
    assert [c.candidate.sentence_index for c in chosen] == [0, 1] and calls == []  # two words of seven: spared
    assert len(screen.rows) == 1 and screen.rows[0][REPEAT_FEATURES.index("log_sentence_gap")] == np.log(2)
    chosen = _choose([cands[0], cands[2]], [0.9, 0.8], SummarySettings(max_sentences=3), embed=embed, screen=screen)
    assert [c.candidate.sentence_index for c in chosen] == [0]  # judged afresh: one fact, shown once
    assert calls == [[texts[0], texts[2]]]


def test_pair_features_read_word_overlap_and_distance():
    a = Candidate(0, "a", 2, 0, 30, "Rail fares rise by 3% in January", np.ones(3, dtype=np.float32))
    b = Candidate(0, "a", 5, 40, 70, "Fares on the rail network rise again", np.ones(3, dtype=np.float32))
    row = dict(zip(REPEAT_FEATURES, pair_features(a, b, 0.8), strict=True))
    assert row["pooled_cosine"] == 0.8 and row["log_shared_terms"] == np.log(3)  # rail, fare, rise
    assert row["overlap_coefficient"] == 3 / 5 and row["log_sentence_gap"] == np.log(4)
    far = Candidate(1, "b", 2, 0, 30, a.text, a.vector)
    assert dict(zip(REPEAT_FEATURES, pair_features(a, far, 0.9), strict=True))["log_sentence_gap"] == np.log(51)


def test_further_sentences_need_a_share_of_the_best_probability():
    cands = [_candidate(i, "a", i * 40, np.eye(3)[i]) for i in range(3)]
    chosen = _choose(cands, [0.9, 0.5, 0.2], SummarySettings(max_sentences=3), min_relative=0.5)
    assert [c.candidate.sentence_index for c in chosen] == [0, 1]  # 0.2 < 0.5 x 0.9
    chosen = _choose(cands, [0.9, 0.5, 0.2], SummarySettings(max_sentences=3), min_relative=0.5,
                     min_probability=0.6)
    assert [c.candidate.sentence_index for c in chosen] == [0]


def test_sentences_already_shown_come_only_when_nothing_new_qualifies():
    cands = [_candidate(i, "a", i * 40, np.eye(3)[i]) for i in range(3)]
    chosen = _choose(cands, [0.9, 0.8, 0.1], SummarySettings(max_sentences=1), shown_before=frozenset({("a", 0)}))
    assert [c.candidate.sentence_index for c in chosen] == [1]
    chosen = _choose(cands, [0.9, 0.1, 0.1], SummarySettings(max_sentences=1), shown_before=frozenset({("a", 0)}))
    assert [c.candidate.sentence_index for c in chosen] == [0]  # the only support


def test_reading_order_groups_by_article_then_position():
    picks = [Chosen(_candidate(0, "a", 90, [1, 0]), 0.5), Chosen(_candidate(1, "b", 5, [0, 1]), 0.9),
             Chosen(_candidate(2, "a", 10, [1, 0]), 0.4)]
    assert [(c.candidate.article_id, c.candidate.start) for c in reading_order(picks)] == [
        ("b", 5), ("a", 10), ("a", 90)]


def test_selection_respects_the_character_budget():
    cands = [_candidate(i, "a", i * 40, np.eye(5)[i]) for i in range(5)]
    chosen = _choose(cands, [1.0 - i / 100 for i in range(5)], SummarySettings(max_sentences=5, max_chars=70),
                     min_relative=0.0)
    assert [c.candidate.sentence_index for c in chosen] == [0, 1]  # 27 characters each: a third would not fit


def test_answer_sentences_are_verbatim_with_exact_offsets(assistant):
    answer = assistant.ask("Which company announced a moratorium on police use of Rekognition?")
    assert not answer.abstained
    assert answer.sentences
    assert answer.sentences[0].article_id == "amazon"
    for sentence in answer.sentences:
        body = assistant.article(sentence.article_id).body
        assert body[sentence.start:sentence.end] == sentence.text
        assert f"[{sentence.citation}]" in answer.text
    for cited in answer.cited:
        for start, end in cited.highlights:
            assert cited.passage.text[start:end] in {s.text for s in answer.sentences}
    assert [c.number for c in answer.cited] == list(range(1, len(answer.cited) + 1))


def test_unrelated_question_abstains_and_still_offers_passages(assistant):
    answer = assistant.ask("Who won the chess olympiad?")
    assert answer.abstained
    assert answer.sentences == ()
    assert "do not seem to answer" in answer.text


def test_filters_restrict_sources_articles_and_dates(assistant):
    by_source = assistant.ask("police software", filters=Filters(sources=("Harbor Times",)))
    assert {p.article_id for p in by_source.passages} == {"amazon", "weather"}  # all of Harbor Times, nothing else
    by_article = assistant.ask("police", filters=Filters(article_ids=("ibm",)))
    assert {p.article_id for p in by_article.passages} == {"ibm"}
    by_date = assistant.ask("police", filters=Filters(date_from="2020-06-09", date_to="2020-06-30"))
    assert {p.article_id for p in by_date.passages} == {"amazon"}


def test_modes_differ_and_unknown_mode_is_refused(assistant):
    for mode in ("dense", "keyword", "hybrid"):
        answer = assistant.ask("Rekognition moratorium", mode=mode)
        assert answer.mode == mode
        assert answer.passages[0].article_id == "amazon"
    keyword = assistant.ask("Rekognition moratorium", mode="keyword")
    assert all(p.dense_score is None for p in keyword.passages)
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        assistant.ask("x", mode="fuzzy")


def test_follow_up_borrows_the_previous_topic(assistant):
    first = assistant.ask("What did Amazon announce about Rekognition?")
    bare = assistant.ask("What did civil liberties groups say about it?")
    follow = assistant.ask("What did civil liberties groups say about it?", history=[first])
    assert follow.query != follow.question
    assert follow.passages[0].article_id == "amazon"
    assert bare.query == bare.question


def test_timings_cover_every_stage(assistant):
    answer = assistant.ask("IBM facial recognition")
    stages = ("embed_query", "dense_search", "keyword_search", "article_search", "time_prior", "fusion",
              "near_duplicates", "grouping", "sentence_selection")
    assert set(answer.timings) == {*stages, "total"}
    assert all(0 < answer.timings[stage] < answer.timings["total"] for stage in stages)  # each measured, inside
    assert sum(answer.timings[stage] for stage in stages) <= answer.timings["total"]  # one after another
    assert answer.to_dict()["text"] == answer.text


def test_near_duplicates_fold_into_one_passage_with_also_reported_by():
    ranked = [_passage(1, "wire-a", 3), _passage(2, "other", 2), _passage(3, "wire-b", 1)]
    ranked[2] = Passage(3, 3, "wire-b", "t", "Northern Courier", None, None, "x", 0, 1, 1.0)
    folded = fold_near_duplicates(ranked, {"wire-a": "wire-a", "wire-b": "wire-a"})
    assert [p.article_id for p in folded] == ["wire-a", "other"]
    assert folded[0].also_reported_by == ("Northern Courier",)
    assert folded[1].also_reported_by == ()


def test_a_syndicated_copy_is_grouped_at_ingest(new_engine):
    story = ("Forecasters expect heavy rain and strong winds along the coast on Friday, with gusts that could "
             "reach sixty miles per hour near the harbor. Residents were told to secure outdoor furniture and "
             "to avoid the sea front during the afternoon high tide. Ferries may be cancelled if the gusts grow "
             "stronger, the port authority said, and schools will decide on Thursday evening whether to open.")
    engine = new_engine({
        "a.md": f"---\nid: a\ntitle: Storm warning\nsource: Harbor Times\n---\n{story}\n",
        "b.md": f"---\nid: b\ntitle: Storm on the way\nsource: Coast Daily\n---\nBy a staff writer. {story}\n"})
    answer = engine.ask("Will the ferries be cancelled because of the storm?")
    assert [p.article_id for p in answer.passages].count("b") + [p.article_id for p in answer.passages].count(
        "a") == 1
    assert answer.passages[0].also_reported_by in (("Coast Daily",), ("Harbor Times",))
    engine.close()


def test_date_window_in_the_question_prefers_that_period_and_keeps_undated(new_engine):
    articles = [("old", "2020-06-10", "Amazon paused police use of Rekognition for one year."),
                ("new", "2021-05-18", "Amazon extended its pause on police use of Rekognition."),
                ("undated", "", "Rekognition is a face matching service sold by Amazon to police.")]
    engine = new_engine({f"{name}.md": f"---\nid: {name}\ntitle: {name}\npublished_at: {date}\n---\n{text}\n"
                                for name, date, text in articles})
    in_2020 = engine.ask("What did Amazon do about police use of Rekognition in June 2020?")
    in_2021 = engine.ask("What did Amazon do about police use of Rekognition in 2021?")
    assert in_2020.time_window == ("2020-06-01", "2020-06-30")
    assert "June 2020" in in_2020.time_note
    ranks_2020 = [p.article_id for p in in_2020.passages]
    ranks_2021 = [p.article_id for p in in_2021.passages]
    assert ranks_2020.index("old") < ranks_2020.index("new")
    assert ranks_2021.index("new") < ranks_2021.index("old")
    assert "undated" in ranks_2020 and "undated" in ranks_2021
    assert ranks_2020.index("undated") < ranks_2020.index("new")  # undated articles are never penalised
    off = engine.ask("What did Amazon do about police use of Rekognition in June 2020?", time_aware=False)
    assert off.time_window is None and off.time_note == ""
    engine.close()


def test_as_of_defaults_to_the_newest_article_for_an_archive(assistant):
    answer = assistant.ask("police")
    assert answer.as_of == "2021-03-02"
    assert assistant.ask("police", as_of="2020-06-12").as_of == "2020-06-12"


def test_reload_keeps_a_snapshot_open_until_its_question_is_done(assistant):
    import sqlite3

    closed = []
    with assistant._reading() as in_use:
        close = in_use.close
        in_use.close = lambda: closed.append(in_use) or close()
        assistant.reload()  # an ingest finished while this question was running
        assert in_use is not assistant.snapshot
        assert in_use.articles() and not closed  # still readable
    assert closed == [in_use]  # closed once its last reader finished
    if hasattr(in_use, "conn"):  # the embedded store's SQLite read transaction ends with it
        with pytest.raises(sqlite3.ProgrammingError):
            in_use.conn.execute("SELECT 1")
    assert not assistant.ask("Rekognition moratorium").abstained


def test_news_week_prior_ignores_articles_published_after_as_of(new_engine):
    days = [("before", "2022-10-18", "Tuesday"), ("after", "2022-10-21", "Friday"),
            ("month_ago", "2022-09-15", "Thursday")]
    engine = new_engine({f"{name}.md": f"---\nid: {name}\ntitle: {name}\npublished_at: {day}\n---\n"
                                              f"The city council approved the new tram line on {word}.\n"
                                for name, day, word in days})
    ranks = [p.article_id for p in engine.ask("Did the council approve the tram line?", as_of="2022-10-20").passages]
    assert ranks[0] == "before"  # in the week before as_of; "after" did not exist yet on 20 October
    assert set(ranks) == {"before", "after", "month_ago"}  # a prior, not a filter
    engine.close()


def test_a_window_after_as_of_stays_in_the_question_as_words(new_engine):
    engine = new_engine({"m.md": "---\nid: m\ntitle: m\npublished_at: 2022-10-18\n---\n"
                                        "Two supermarket chains plan to merge in 2024, pending approval.\n"})
    answer = engine.ask("Which supermarkets plan to merge in 2024?", as_of="2022-10-20")
    assert answer.time_window is None
    assert "2024" in answer.time_note and "words" in answer.time_note
    assert answer.passages and answer.passages[0].article_id == "m"
    engine.close()


def test_merge_hits_unions_searches_by_score():
    from assistant.fuse import merge_hits

    merged = merge_hits([(np.array([4, 2]), np.array([0.9, 0.5])), (np.array([2, 7]), np.array([0.5, 0.7]))])
    assert merged.tolist() == [4, 7, 2]
    assert merge_hits([]).tolist() == []


def test_article_fusion_ranks_articles_not_chunks():
    from assistant.fuse import article_rank_fusion

    article_of = np.array([0, 0, 0, 1, 2])  # positions 0-2 are one long article
    dense = np.array([0, 1, 2, 3, 4])
    keyword = np.array([4, 3, 0])
    fused = article_rank_fusion([dense, keyword], article_of)
    order = [p for p, _ in fused]
    # Article 2 is second in both article rankings (dense: 0, 1, 2; keyword: 2, 1, 0) after dedup, and so
    # is article 1; chunk-level fusion would have let positions 1 and 2 of article 0 crowd them out.
    assert order.index(4) < order.index(1) and order.index(3) < order.index(1)
    assert order.index(0) < order.index(1) < order.index(2)  # an article's chunks keep their own order
    boosted = article_rank_fusion([dense, keyword], article_of, boost=np.array([1, 1, 1, 4.0, 1]))
    assert boosted[0][0] == 3


def test_article_votes_rank_articles_but_not_chunks_within_them():
    from assistant.fuse import article_rank_fusion

    article_of = np.array([0, 0, 1])  # article 0: positions 0 (lead) and 1; article 1: position 2 (lead)
    ranking = np.array([1, 2, 0])  # article 0's second chunk matches best
    plain = [p for p, _ in article_rank_fusion([ranking], article_of)]
    assert plain == [1, 2, 0]
    votes = [np.array([2, 0]), np.array([2])]
    voted = [p for p, _ in article_rank_fusion([ranking], article_of, article_votes=votes)]
    assert voted.index(2) < voted.index(1)  # article 1's lead ranks first in both votes: it moves up
    assert voted.index(1) < voted.index(0)  # inside article 0 the matching chunk still leads


def test_lead_votes_only_for_time_anchored_questions(assistant, monkeypatch):
    import assistant.engine as engine_module

    seen = []
    real = engine_module.retrieve
    monkeypatch.setattr(engine_module, "retrieve", lambda *a, **kw: seen.append(kw["lead_lists"]) or real(*a, **kw))
    assistant.ask("Which company paused police use of Rekognition?")
    assistant.ask("Which company paused police use of Rekognition?", as_of="2020-06-12")
    assistant.ask("What did Amazon announce in June 2020?")
    assistant.ask("Which company paused police use of Rekognition?", as_of="2020-06-12", time_aware=False)
    assert seen == [False, True, True, False]


def test_an_undated_corpus_ranks_the_same_with_or_without_time(new_engine):
    filler = " ".join(f"Road crews repaired street number {i} in the eastern district." for i in range(40))
    texts = {"long": filler + " The city libraries will open on Sundays from next spring, the council said.",
             "short": "Libraries in the region are busy. Reading groups meet on weekday evenings."}
    engine = new_engine({f"{name}.md": f"---\nid: {name}\ntitle: {name}\n---\n{text}\n"
                                for name, text in texts.items()})
    question = "When will the city libraries open on Sundays?"
    timed = engine.ask(question, as_of="2022-10-20")
    plain = engine.ask(question, time_aware=False)
    assert plain.passages[0].article_id == "long"  # its last chunk says it; "short" only opens on the topic
    assert [p.chunk_id for p in timed.passages] == [p.chunk_id for p in plain.passages]
    ratios = {round(t.score / p.score, 9) for t, p in zip(timed.passages, plain.passages, strict=True)}
    assert len(ratios) == 1  # every passage is "inside" an undated window: one common factor, same order
    engine.close()


def test_a_calendar_year_stays_a_search_word_on_an_undated_corpus(new_engine):
    engine = new_engine({f"{name}.md": f"---\nid: {name}\ntitle: Trade report\n---\n"
                                              f"Chinese exports soared in {year}, the trade ministry said.\n"
                                for name, year in [("a", 2003), ("b", 2004)]})
    answer = engine.ask("How far did Chinese exports soar in 2004?")
    assert answer.time_window == ("2004-01-01", "2004-12-31")  # the window is still read...
    assert answer.passages[0].article_id == "b"  # ...and "2004" still matches the article that says it
    engine.close()


def test_a_source_filter_does_not_make_an_undated_window_count_as_dated(new_engine, monkeypatch):
    import assistant.retrieve as retrieve_module

    engine = new_engine({f"{name}.md": f"---\nid: {name}\ntitle: {name}\nsource: {source}\n---\n"
                                              f"The {source} reported that the ferry to the island resumed.\n"
                                for name, source in [("a", "North Post"), ("b", "South Post")]})
    votes = []
    real = retrieve_module.article_rank_fusion
    monkeypatch.setattr(retrieve_module, "article_rank_fusion",
                        lambda *a, **kw: votes.append(len(kw["article_votes"])) or real(*a, **kw))
    engine.ask("Did the ferry resume?", as_of="2022-10-20", filters=Filters(sources=("North Post",)))
    assert votes == [0]  # undated articles sit inside every window: no lead votes, filter or not
    engine.close()
