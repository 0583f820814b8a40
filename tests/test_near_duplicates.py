"""Near-duplicate detection: wire copies and updates group, same-topic stories do not."""

import json
import random
import sqlite3
from pathlib import Path

import pytest

from index.near_duplicates import (
    NearDuplicateGroups,
    NearDuplicateIndex,
    cluster,
    from_bytes,
    shingles,
    signature,
    to_bytes,
)

LEDE = ("SEATTLE (Reuters) - Amazon.com Inc on Wednesday banned police use of its facial recognition "
        "software for one year, becoming the latest technology company to step back from a tool that "
        "civil liberties groups say is biased against people of color.")
BODY = """
The one-year moratorium on law enforcement use of Rekognition follows weeks of protests across the
United States over the killing of George Floyd, a Black man who died after a Minneapolis police
officer knelt on his neck for nearly nine minutes.

Amazon said in a short blog post that it hoped the pause would give Congress enough time to put in
place appropriate rules for the ethical use of the technology, and that it stood ready to help if
lawmakers asked for its advice on the wording of new federal legislation.

The company said organizations such as Thorn, the International Center for Missing and Exploited
Children and Marinus Analytics would still be allowed to use Rekognition to help rescue victims of
human trafficking and reunite missing children with their families.

Civil rights advocates have long warned that facial analysis systems misidentify women and people
with darker skin far more often than white men, and that the errors could lead to wrongful arrests,
unwarranted searches and a chilling effect on peaceful public protest.

A 2018 test by the American Civil Liberties Union found that the software falsely matched 28
members of Congress with mugshots of people who had been arrested, and the false matches
disproportionately involved lawmakers of color, including the late civil rights leader John Lewis.

Amazon disputed the methodology of that test at the time, saying the ACLU had used a confidence
threshold that was lower than the one it recommends for law enforcement, and it has since published
guidance urging police departments to review every match by hand before acting on it.

The announcement came two days after International Business Machines Corp said it would no longer
offer general purpose facial recognition or analysis software and called for a national dialogue on
whether and how such tools should be used by domestic law enforcement agencies.

Nicole Ozer, technology and civil liberties director at the ACLU of Northern California, said the
moratorium was a welcome first step but that the company should commit to a permanent ban and stop
selling surveillance systems that could be turned against immigrants and protesters.

Amazon did not say how many police departments currently use Rekognition. The Washington County
Sheriff's Office in Oregon, one of the first public customers, said it would suspend its use of the
service while the moratorium was in place and would review its policies in the meantime.

Shares of Amazon were little changed in afternoon trading on the Nasdaq, where investors have largely
shrugged off the controversy because government contracts make up a small part of cloud revenue.
"""
STORY = f"By Jeffrey Dastin\n\n{LEDE}\n{BODY}\nReporting by Jeffrey Dastin; Editing by Leslie Adler"

OTHER_STORY = """
WASHINGTON (AP) - Democratic lawmakers in Congress introduced a bill on Thursday that would ban
federal law enforcement agencies such as the FBI from using facial recognition technology, citing the
ACLU test in which Amazon's Rekognition software matched 28 members of Congress with mugshots.

Senators Ed Markey and Jeff Merkley and Representatives Pramila Jayapal and Ayanna Pressley said the
Facial Recognition and Biometric Technology Moratorium Act would also withhold federal grants from
state and local police departments that keep using the systems after it becomes law.

The sponsors pointed to the wrongful arrest of Robert Williams in Detroit, who was held for thirty
hours after software wrongly matched his driver's license photo to surveillance footage of a
shoplifter, as evidence that the harms of the technology are no longer hypothetical.

IBM and Microsoft have said they will not sell facial recognition to police until there is a federal
law, and Amazon paused police use of Rekognition for a year, but none of the companies endorsed the
bill, which faces long odds in the Republican-controlled Senate before the November election.

Civil liberties groups including the ACLU, the Electronic Frontier Foundation and Fight for the
Future welcomed the proposal and urged cities to follow San Francisco, Boston and Oakland, which have
already barred their own agencies from using the technology on residents and visitors.

Police groups said a ban would take a useful investigative tool away from detectives, arguing that a
match is only a lead and is always checked by a human analyst before anyone is charged with a crime.

A 2019 study by the National Institute of Standards and Technology found that many algorithms were
ten to one hundred times more likely to misidentify Black and Asian faces than white faces, a result
the bill's sponsors cited repeatedly during a press call with reporters on Thursday afternoon.
"""


NEW_LEDE = ("Amazon has told police forces they can no longer use its Rekognition face-matching service, "
            "for a year at least, in a move campaigners described as overdue but welcome.")


def new_byline() -> str:
    """Another outlet runs the wire copy under its own byline, without the wire credit line."""
    return f"By Staff Writer, The Daily Item\n\n{LEDE}\n{BODY}"


def new_lede() -> str:
    """The same copy with a rewritten first paragraph (true shingle Jaccard 0.85)."""
    return STORY.replace(LEDE, NEW_LEDE)


def republished() -> str:
    """Own byline, own intro and no credit line: true Jaccard 0.83, right at the default threshold."""
    return f"By Staff Writer, The Daily Item\n\n{NEW_LEDE}\n{BODY}"


def with_words_changed() -> str:
    """A re-published update: a handful of words edited."""
    return (STORY.replace("Wednesday", "Thursday").replace("short blog post", "brief statement")
            .replace("little changed", "slightly higher").replace("nearly nine", "about nine"))


def test_shingles_are_lower_cased_word_five_grams():
    assert shingles("The cat, the HAT; the bat and the rat.") == {
        b"the cat the hat the", b"cat the hat the bat", b"the hat the bat and",
        b"hat the bat and the", b"the bat and the rat"}
    assert shingles("Too short") == {b"too short"}
    assert shingles("  ...  ") == set()


def test_wire_copies_are_grouped_and_other_stories_are_not():
    index = NearDuplicateIndex(threshold=0.8)
    assert index.add("reuters", STORY) == []
    assert index.add("other-story", OTHER_STORY) == []
    assert index.add("daily-item", new_byline()) == ["reuters"]
    assert index.add("new-lede", new_lede()) == ["reuters", "daily-item"]
    # Matches are pairwise: the update and the new intro differ in both places (Jaccard ~0.78)...
    assert index.add("update", with_words_changed()) == ["reuters", "daily-item"]
    assert index.add("exact-copy", STORY) == ["reuters", "daily-item", "new-lede", "update"]
    assert index.groups() == [["reuters", "daily-item", "new-lede", "update", "exact-copy"]]  # ...groups are not
    assert index.representative("exact-copy") == "reuters"
    assert index.representative("other-story") == "other-story"
    assert index.query(OTHER_STORY) == ["other-story"]


def test_similarities_behind_the_grouping():
    story = signature(STORY)
    assert story.jaccard(signature(STORY)) == 1.0
    for variant in (new_byline(), new_lede(), with_words_changed()):
        assert story.jaccard(signature(variant)) >= 0.8
    # Same topic, many shared names (Amazon, Rekognition, ACLU, 28 members of Congress, IBM): still different.
    assert story.jaccard(signature(OTHER_STORY)) < 0.1


def test_a_copy_with_new_byline_and_intro_needs_a_lower_threshold():
    """With 64 permutations the Jaccard estimate is about ±0.05, so a pair at 0.83 is a coin toss at 0.8."""
    assert cluster([("reuters", STORY), ("republished", republished())], threshold=0.7) == {
        "reuters": "reuters", "republished": "reuters"}


def test_cluster_maps_every_article_to_its_groups_first_member():
    articles = [("other-story", OTHER_STORY), ("daily-item", new_byline()), ("reuters", STORY),
                ("update", with_words_changed())]
    assert cluster(articles) == {"other-story": "other-story", "daily-item": "daily-item",
                                 "reuters": "daily-item", "update": "daily-item"}


def test_groups_are_transitive_through_updates():
    words = STORY.split()
    rng = random.Random(7)
    versions = [words]
    for _ in range(4):  # each update replaces 6 words of the previous one
        edited = list(versions[-1])
        for position in rng.sample(range(len(edited)), 6):
            edited[position] = f"edit{rng.randrange(10**6)}"
        versions.append(edited)
    first, last = signature(" ".join(versions[0])), signature(" ".join(versions[-1]))
    assert first.jaccard(last) < 0.8  # too far apart on their own...
    ids = cluster((f"v{i}", " ".join(v)) for i, v in enumerate(versions))
    assert ids == dict.fromkeys(["v0", "v1", "v2", "v3", "v4"], "v0")  # ...but linked through the updates


@pytest.mark.parametrize("text", ["", "   ", "!!!", "Breaking.", "Four words only here"])
def test_short_texts_do_not_crash(text):
    index = NearDuplicateIndex()
    index.add("a", text)
    index.add("b", text)
    index.add("story", STORY)
    assert index.query(text) == (["a", "b"] if shingles(text) else [])
    assert index.groups() == ([["a", "b"]] if shingles(text) else [])


def test_a_short_text_is_not_a_duplicate_of_a_long_one():
    index = NearDuplicateIndex()
    index.add("story", STORY)
    assert index.add("headline", "Amazon bans police use of its facial recognition software") == []


def test_signatures_are_deterministic_and_round_trip_through_sqlite():
    assert list(signature(STORY).hashvalues) == list(signature(STORY).hashvalues)
    index = NearDuplicateIndex()
    for article_id, text in [("reuters", STORY), ("other", OTHER_STORY), ("copy", new_lede()), ("empty", "")]:
        index.add(article_id, text)

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE signatures (article_id TEXT PRIMARY KEY, minhash BLOB NOT NULL)")
    conn.executemany("INSERT INTO signatures VALUES (?, ?)", index.to_records())
    rows = conn.execute("SELECT article_id, minhash FROM signatures ORDER BY rowid")
    rebuilt = NearDuplicateIndex.from_records(rows)

    assert list(rebuilt) == ["reuters", "other", "copy", "empty"]
    assert rebuilt.groups() == index.groups() == [["reuters", "copy"]]
    assert rebuilt.query(new_byline()) == ["reuters", "copy"]
    blob = to_bytes(signature(STORY))
    assert list(from_bytes(blob).hashvalues) == list(signature(STORY).hashvalues)
    assert to_bytes(from_bytes(blob)) == blob


def test_mismatched_or_repeated_signatures_are_refused():
    index = NearDuplicateIndex(num_perm=64)
    index.add("a", STORY)
    with pytest.raises(ValueError, match="already"):
        index.add("a", STORY)
    with pytest.raises(ValueError, match="permutations"):
        index.add_signature("b", signature(STORY, num_perm=128))


BBC = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bbc_news" / "articles.jsonl"


@pytest.mark.skipif(not BBC.exists(), reason="BBC News dataset not available")
def test_bbc_news_has_a_few_near_duplicate_groups():
    """The BBC set repeats some stories; grouping must stay a small minority of the 2,225 articles."""
    with BBC.open(encoding="utf-8") as lines:
        articles = [(row["id"], row["body"]) for row in map(json.loads, lines)]
    representatives = cluster(articles)
    grouped = [article_id for article_id, rep in representatives.items() if rep != article_id]
    assert 0 < len(grouped) < len(articles) * 0.1


def _from_scratch(state: dict[str, tuple[int, str, str]]) -> dict[str, str]:
    """What a snapshot built the groups from: oldest first (undated last), ties by sequence number."""
    index = NearDuplicateIndex()
    for article_id, (_, _, text) in sorted(state.items(), key=lambda kv: (kv[1][1] or "9999", kv[1][0])):
        index.add(article_id, text)
    return {m: g[0] for g in index.groups() for m in g}


def test_groups_kept_by_difference_equal_groups_built_from_scratch():
    """Generations that add, replace (new version, new date) and remove articles: the incremental groups
    match a fresh index every time, and only new or changed articles have their signatures read."""
    texts = [STORY, new_byline(), new_lede(), with_words_changed(), OTHER_STORY, "", "Breaking."]
    rng = random.Random(3)
    groups, state, read = NearDuplicateGroups(), {}, []
    signatures = {}

    def signature_of(article_id):
        read.append(article_id)
        return signatures[article_id]

    seq = grouped = 0
    for generation in range(40):
        read.clear()
        changed = set()
        for _ in range(rng.randrange(1, 4)):
            article_id = f"a{rng.randrange(12)}"
            if article_id in state and rng.random() < 0.3:
                del state[article_id]
                continue
            seq += 1
            date = rng.choice(["", f"2022-01-0{rng.randrange(1, 4)}"])
            text = rng.choice(texts)
            state[article_id] = (seq, date, text)
            signatures[article_id] = signature(text)
            changed.add(article_id)
        current = {a: (s, (d or "9999", s)) for a, (s, d, _) in state.items()}
        got = groups.update(current, signature_of)
        assert got == _from_scratch(state), generation
        grouped += len(set(got.values())) >= 2  # two groups or more: the representatives' order counts
        assert set(read) == changed & set(state)
    assert len(groups) == len(state)
    assert grouped >= 5
