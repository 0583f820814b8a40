"""The engine's public API: `Assistant.load(index_dir).ask(question)` → a cited extractive Answer."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from assistant import briefing, language
from assistant.abstain import reason
from assistant.answer_model import AnswerModel, RepeatModel, load_model, load_repeat_model
from assistant.converse import UNSEEN_MIN_SHARE, Turn, resolve, shown_sentences
from assistant.evidence import Candidate, Evidence, gather, question_row
from assistant.group import fold_near_duplicates, group_by_article
from assistant.limits import MIN_DATE, check_date, clean_question
from assistant.options import AskOptions
from assistant.results import Answer, AnswerSentence, CitedPassage, Filters, Passage, Support
from assistant.retrieve import Prior, retrieve
from assistant.summarize import Chosen, SummarySettings, choose
from assistant.timeframe import TimeFrame, anchor_to, parse_timeframe, strip_expression
from index.store import Snapshot, SnapshotExpired, Store

# Time priors (weights of the window-restricted lists in the fusion), measured on RealTime QA.
WEIGHT_EXPLICIT_WINDOW = 3.0  # "in June 2020", "last week": strongly prefer that window
WEIGHT_RECENCY = 1.0  # "latest", "recently": prefer the last 30 days before "as of"
WEIGHT_NEWS_WINDOW = 3.0  # no time cue but an explicit "as of": prefer the week before it (×4)
NEWS_WINDOW_DAYS = 7
RECENCY_DAYS = 30
# How often (at most) a question checks whether another process committed a newer generation.
RELOAD_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class AskSettings:
    """How the engine works (not how a question is asked: that is AskOptions)."""

    depth: int = 200  # candidates from each retriever before fusion (200 vs 100: Hit@10 0.942 -> 0.951 on RTQA dev)
    # Time-anchored questions ("this week", or asked as of a date) ask what happened: each ranked list
    # then votes again with its articles' opening chunks (retrieve.py). RealTime QA (time-aware, hybrid):
    # Hit@5 0.913 -> 0.937, MRR@10 0.774 -> 0.797; on undated BBC detail questions the same votes cost
    # Hit@5 0.900 -> 0.767, so questions without a time anchor get none.
    lead_votes: bool = True
    # Weight of BM25 over whole articles in the fusion (0: off; retrieve.py). Chosen on dev splits only
    # (python -m eval.tune_article_list): RealTime QA dev weeks Hit@1 0.738 -> 0.767, MRR@10 0.836 -> 0.853,
    # Hit@5 0.971 both; BBC written dev halves Hit@1 0.667 -> 0.833 and 0.825 -> 0.925 (Hit@5 1.0 -> 0.933 and
    # 0.975 -> 1.0). Weight 3 was no better, 4 lost Hit@5.
    article_list_weight: float = 2.0
    # A sentence that this many articles of the index hold (normalised: index/sentence_spread.py) is a
    # template ("Sign up here for the '5 Things' newsletter.": 113 RealTime QA articles) and never quoted;
    # 0 quotes all. Chosen on the RealTime QA dev weeks (eval/RESULTS.md, session 6): 9 of their 148
    # answers quoted a sentence held by 11, 18 or 113 articles, while the most any fact reaches in the
    # archive is 10 (one newsletter body crawled under 10 dates; wire copies 2 to 4; BBC's most is 7).
    template_articles: int = 11
    summary: SummarySettings = SummarySettings()
    answer_model: AnswerModel | None = None  # None: the fitted model shipped in assistant/models/
    repeat_model: RepeatModel | None = None  # the same for the redundancy pair screen
    abstain_threshold: float | None = None  # None: the model's own (<= 5% false abstention on dev)


EXPIRY_RETRIES = 5  # a writer committing every few seconds can expire a retry too (load test: 20 clients)


def _retry_on_expiry(method):
    """Run again on the newest snapshot when the one in use expired mid-call (another process changed an
    article it was reading): the caller gets an answer from one generation, never a mix. Under a busy
    writer the newest snapshot can expire as well, so a few tries are allowed before the error shows."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        for _ in range(EXPIRY_RETRIES):
            try:
                return method(self, *args, **kwargs)
            except SnapshotExpired:
                self._refresh_now()
        return method(self, *args, **kwargs)
    return wrapper


class Assistant:
    """Holds one index snapshot and the encoder; `reload()` swaps in a newer snapshot atomically,
    so a question never sees a half-written index."""

    def __init__(self, store: Store, encoder, settings: AskSettings | None = None):
        self.store = store
        self.encoder = encoder
        self.settings = settings or AskSettings()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one ingest or removal at a time in this process
        self._readers: dict[int, int] = {}  # snapshot id -> questions running on it
        self._retired: dict[int, object] = {}  # replaced snapshots waiting for their last reader
        self._refresh_lock = threading.Lock()  # one thread at a time checks for (and loads) a newer generation
        self._checked_at = time.monotonic()
        self.snapshot = store.snapshot()

    @classmethod
    def load(cls, index: Path | str | None = None, encoder=None, model: str | None = None,
             settings: AskSettings | None = None) -> Assistant:
        """Open an index folder or store URI (default: the demo corpus's index, built on first use) with
        the embedding model it was built with (or the one given)."""
        from index.backends import open_store
        from index.embed import encoder_for_manifest, load_encoder
        from index.ingest import manifest_for

        if index is None:
            encoder = encoder or load_encoder(model)
            index = ensure_demo_index(encoder)
        store = open_store(index)
        if encoder is None:  # the model the index was built with, unless another is named
            encoder = load_encoder(model) if model else encoder_for_manifest(store.manifest)
        store.manifest.check_compatible(manifest_for(encoder, _settings_of(store.manifest)), index)
        return cls(store, encoder, settings)

    def reload(self) -> None:
        """Swap in the newest snapshot; the old one closes when the last question using it is done."""
        fresh = self.store.snapshot()
        with self._lock:
            old, self.snapshot = self.snapshot, fresh
            if not self._readers.get(id(old)):
                old.close()
            else:
                self._retired[id(old)] = old

    def _maybe_refresh(self) -> None:
        """Other processes (a CLI ingest or remove) commit too: at most every RELOAD_CHECK_SECONDS, one
        indexed read of the newest generation, and a reload when it moved. Threads that find another one
        already checking carry on with the current snapshot."""
        if time.monotonic() - self._checked_at < RELOAD_CHECK_SECONDS or not self._refresh_lock.acquire(False):
            return
        try:
            self._checked_at = time.monotonic()
            self._reload_if_behind()
        finally:
            self._refresh_lock.release()

    def _reload_if_behind(self) -> None:
        if self.snapshot.current_generation() != self.snapshot.generation:
            self.reload()

    def _refresh_now(self) -> None:
        """After SnapshotExpired: the snapshot's articles changed under it; load the newest (once, however
        many questions noticed at the same time)."""
        with self._refresh_lock:
            self._checked_at = time.monotonic()
            self._reload_if_behind()

    @contextmanager
    def _reading(self):
        """The current snapshot, kept open for the duration of one question."""
        self._maybe_refresh()
        with self._lock:
            snapshot = self.snapshot
            self._readers[id(snapshot)] = self._readers.get(id(snapshot), 0) + 1
        try:
            yield snapshot
        finally:
            with self._lock:
                self._readers[id(snapshot)] -= 1
                if not self._readers[id(snapshot)]:
                    del self._readers[id(snapshot)]
                    retired = self._retired.pop(id(snapshot), None)
                    if retired is not None:
                        retired.close()

    def default_as_of(self) -> date:
        return default_as_of(self.snapshot)

    @_retry_on_expiry
    def ask(self, question: str, history: Sequence[Answer | Turn | str] = (), options: AskOptions | None = None,
            **changes) -> Answer:
        """Answer from the articles, asked with `options` (AskOptions; keyword `changes` override single
        options: `ask(q, k=3)`). `as_of` is the date the question is asked at (default: see default_as_of);
        time words in the question are read against it unless time_aware is False."""
        options = options or AskOptions()
        if changes:
            options = options.but(**changes)
        with self._reading() as snapshot:  # one snapshot for the whole question, closed only after it
            return self._ask(snapshot, question, history, options)

    def _ask(self, snapshot: Snapshot, question: str, history: Sequence[Answer | Turn | str],
             options: AskOptions) -> Answer:
        started = time.perf_counter()
        question = clean_question(question)  # a BadRequest when empty or too long; surrogates replaced
        reference = _to_date(options.as_of) if options.as_of is not None else default_as_of(snapshot)
        # --- conversation hooks (issue 12): refuse nonsense, brief on news windows ---
        if refusal := language.refusal(question):
            return _refused(question, refusal, options, reference, started)
        asked_frame = anchor_to(parse_timeframe(question, reference), reference) if options.time_aware else None
        if request := briefing.request_for(question, asked_frame, bool(history)):
            return briefing.brief(snapshot, request, asked_frame, reference, options, query=question,
                                  encoder=self.encoder, depth=self.settings.depth)
        found = self._find(snapshot, question, history, options)
        if found.refusal:
            return _refused(question, found.refusal, options, reference, started)
        timings, top, frame = found.timings, found.top, found.frame
        t = time.perf_counter()
        summary = replace(self.settings.summary, max_sentences=options.max_sentences)
        composed = self._compose(snapshot, found, summary, options.filters)
        chosen = composed.chosen
        chronological = bool(frame and frame.chronological)
        if chronological:
            chosen = sorted(chosen, key=lambda c: (top[c.candidate.passage_index].published_at or "9999",
                                                   c.candidate.start))
        abstained = composed.abstained
        sentences, cited = ((), ()) if abstained else cite(snapshot, chosen, top)
        timings["sentence_selection"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        return Answer(
            question=question, query=found.query, sentences=sentences, cited=cited,
            passages=tuple(found.ranked), abstained=abstained, confidence=round(composed.support, 4),
            mode=options.mode, filters=options.filters, note=found.note, timings=timings,
            as_of=found.as_of.isoformat(), time_note=frame.describe() if frame else "",
            time_window=frame.iso_range() if frame and frame.has_window else None,
            chronological=chronological and not abstained, shown=tuple(top),
            reason=composed.reason if abstained else "",
        )

    def _find(self, snapshot: Snapshot, question: str, history: Sequence[Answer | Turn | str],
              options: AskOptions) -> Found:
        """The question read in its conversation and its time, searched, and the k passages to answer from."""
        settings = self.settings
        resolved = resolve(question, [as_turn(h) for h in history])
        explicit_as_of = options.as_of is not None
        reference = _to_date(options.as_of) if explicit_as_of else default_as_of(snapshot)
        if language.only_common_words(resolved.query):
            return Found(resolved.query, resolved.note, reference, None, [], [], np.zeros(0), {},
                         refusal="the question has only common words and no topic to search for (ask about "
                                 "a person, a place or an event)")
        # Follow-ups prefer sentences the conversation has not shown yet.
        shown = shown_sentences(snapshot, history[-6:]) if resolved.is_follow_up else frozenset()
        frame = (anchor_to(parse_timeframe(resolved.query, reference), reference) if options.time_aware
                 else None)
        # Time words leave the search query once a date window does their work. Relative ones ("last
        # week") match nothing useful in an article anyway; calendar dates ("in 2004") stay where the
        # articles are undated, since there only their words can tell the years apart.
        strip = frame is not None and frame.has_window and (bool(snapshot.newest_date) or not frame.literal)
        query = strip_expression(resolved.query, frame) if strip else resolved.query
        priors = time_priors(frame, reference, explicit_as_of) if options.time_aware else ()

        retrieval = retrieve(snapshot, self.encoder, query or resolved.query, mode=options.mode,
                             depth=settings.depth, filters=options.filters, priors=priors,
                             lead_lists=settings.lead_votes and bool(priors),
                             article_weight=settings.article_list_weight)
        timings = dict(retrieval.timings)
        ranked = _boost(retrieval.passages, resolved.boost_article_ids)
        t = time.perf_counter()
        ranked = fold_near_duplicates(ranked, snapshot.near_duplicates())
        timings["near_duplicates"] = time.perf_counter() - t
        t = time.perf_counter()
        top = group_by_article(ranked, options.k, per_article=options.per_article)
        timings["grouping"] = time.perf_counter() - t
        return Found(resolved.query, resolved.note, reference, frame, ranked, top, retrieval.query_vector, timings,
                     shown)

    def evidence(self, question: str, history: Sequence[Answer | Turn | str] = (),
                 options: AskOptions | None = None) -> tuple[Found, Evidence]:
        """What the answer stage sees for this question (for fitting its models: eval/fit_answers.py)."""
        with self._reading() as snapshot:
            found = self._find(snapshot, question.strip(), history, options or AskOptions())
            return found, gather(snapshot, found.top, found.query, found.query_vector,
                                 template_articles=self.settings.template_articles)

    def _compose(self, snapshot: Snapshot, found: Found, summary: SummarySettings, filters: Filters) -> Composed:
        """Score the candidate sentences, decide whether they answer the question, choose the answer."""
        model = self.settings.answer_model or load_model()
        top, query = found.top, found.query
        evidence = gather(snapshot, top, query, found.query_vector, template_articles=self.settings.template_articles)
        probabilities = model.sentence.predict(evidence.features) if evidence.candidates else np.zeros(0)
        row = question_row(evidence, probabilities, top)
        support = float(model.support.predict(row)[0]) if evidence.candidates else 0.0
        threshold = model.support_threshold if self.settings.abstain_threshold is None \
            else self.settings.abstain_threshold
        timeline = bool(found.frame and found.frame.chronological)  # one dated sentence per story, all kept
        chosen = choose(evidence.candidates, probabilities, summary,
                        min_relative=0.0 if timeline else model.min_relative,
                        min_probability=0.0 if timeline else model.min_probability,
                        min_relative_other=0.0 if timeline else model.min_relative_other,
                        shown_before=found.shown, unseen_min_share=UNSEEN_MIN_SHARE, embed=self.encoder.encode,
                        screen=self.settings.repeat_model or load_repeat_model())
        abstained = not chosen or support < threshold
        why = reason(evidence.question, query, top, filters) if abstained else ""
        return Composed(support, chosen, abstained, why)

    # Corpus management, so that front ends need only this class.
    @_retry_on_expiry
    def articles(self):
        """ArticleInfo rows of the current snapshot, newest first."""
        with self._reading() as snapshot:
            return snapshot.articles()

    @_retry_on_expiry
    def article(self, article_id: str):
        """The full Article (body, metadata) from the current snapshot."""
        with self._reading() as snapshot:
            return snapshot.article(article_id)

    @_retry_on_expiry
    def sentences(self, article_id: str):
        with self._reading() as snapshot:
            return snapshot.sentences(article_id)

    def near_duplicates(self) -> dict[str, str]:
        """article id -> the representative of its near-duplicate group (only articles that have one)."""
        with self._reading() as snapshot:
            return snapshot.near_duplicates()

    def ingest(self, inputs: Sequence[str], progress=None):
        """Add files, folders or URLs; questions keep using the old snapshot until the commit,
        then the new one. `progress(done_articles)` is called as articles are prepared."""
        from index.chunk import ChunkSettings
        from index.ingest import ingest_into
        from index.load import load_inputs

        with self._write_lock:
            report = ingest_into(self.store, load_inputs(inputs), self.encoder,
                                 ChunkSettings(**self.store.manifest.chunking), progress=progress)
            self.reload()
        return report

    def remove(self, article_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(removed, unknown) ids; one transaction, then the new snapshot is swapped in."""
        from index.ingest import remove_articles

        with self._write_lock:
            result = remove_articles(self.store, list(article_ids))
            self.reload()
        return result

    def close(self) -> None:
        self.snapshot.close()
        self.store.close()


@dataclass(frozen=True)
class Found:
    """A question read in its conversation and time, and what retrieval found for it."""

    query: str  # as searched (expanded from the conversation when elliptical)
    note: str  # how a follow-up was read
    as_of: date
    frame: TimeFrame | None  # None when time-unaware
    ranked: list[Passage]  # the fused ranking, near-duplicates folded
    top: list[Passage]  # the k passages the answer is drawn from
    query_vector: np.ndarray
    timings: dict[str, float]
    shown: frozenset[tuple[str, int]] = frozenset()  # (article, sentence) the conversation already showed
    refusal: str = ""  # why the question was refused before any search


@dataclass(frozen=True)
class Composed:
    """What the answer stage decided (eval/fit_answers.py reads its inputs through Assistant.evidence)."""

    support: float  # P(the articles answer the question)
    chosen: list[Chosen]
    abstained: bool
    reason: str


def cite(snapshot: Snapshot, chosen: Sequence[Chosen], passages: Sequence[Passage]
         ) -> tuple[tuple[AnswerSentence, ...], tuple[CitedPassage, ...]]:
    """Number passages in order of first citation; highlight each cited sentence inside its passage. A
    sentence just outside its passage (a neighbour candidate) widens that passage to include it."""
    numbers: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}

    def number(candidate: Candidate) -> int:
        spans.setdefault(candidate.passage_index, []).append((candidate.start, candidate.end))
        return numbers.setdefault(candidate.passage_index, len(numbers) + 1)

    sentences = []
    for c in chosen:
        first = number(c.candidate)
        also = tuple(Support(number(o), o.article_id, o.start, o.end, o.text) for o in c.also)
        sentences.append(AnswerSentence(c.candidate.text, first, c.candidate.article_id, c.candidate.start,
                                        c.candidate.end, round(c.probability, 4),
                                        passages[c.candidate.passage_index].published_at, also))
    cited = tuple(_cited(snapshot, passages[i], n, spans[i]) for i, n in numbers.items())
    return tuple(sentences), cited


def _cited(snapshot: Snapshot, passage: Passage, number: int, spans: list[tuple[int, int]]) -> CitedPassage:
    start, end = min(passage.start, *(s for s, _ in spans)), max(passage.end, *(e for _, e in spans))
    if (start, end) != (passage.start, passage.end):
        passage = replace(passage, start=start, end=end, text=snapshot.article(passage.article_id).body[start:end])
    return CitedPassage(number, passage, tuple(sorted((s - start, e - start) for s, e in set(spans))))


def default_as_of(snapshot) -> date:
    """Today, or the newest article's date when the collection ends in the past (an archive)."""
    today = date.today()
    newest = min(today, date.fromisoformat(snapshot.newest_date)) if snapshot.newest_date else today
    return max(newest, MIN_DATE)  # an article dated 0001-01-01 must not make "this month" overflow


def time_priors(frame, as_of: date, explicit_as_of: bool) -> tuple[Prior, ...]:
    """Date windows to favour, each multiplying the scores of the articles inside it: the question's own
    window, else the last month for a recency cue ("latest", "recently"); and, whenever the caller says
    when the question is asked, the news week before that date too, so "this year" favours the year and
    most of all its last week. None reaches past `as_of`: articles dated later did not exist yet."""
    priors = []
    if frame is not None and frame.has_window:
        start, end = frame.iso_range()
        priors.append(Prior(start, end or as_of.isoformat(), WEIGHT_EXPLICIT_WINDOW))
    elif frame is not None and frame.recency:
        priors.append(Prior((as_of - timedelta(days=RECENCY_DAYS)).isoformat(), as_of.isoformat(), WEIGHT_RECENCY))
    if explicit_as_of:
        week = Prior((as_of - timedelta(days=NEWS_WINDOW_DAYS)).isoformat(), as_of.isoformat(), WEIGHT_NEWS_WINDOW)
        if all((p.date_from, p.date_to) != (week.date_from, week.date_to) for p in priors):
            priors.append(week)
    return tuple(priors)


def _refused(question: str, reason: str, options: AskOptions, as_of: date, started: float) -> Answer:
    """An abstention before any search: the question is gibberish, another language, or only stopwords."""
    return Answer(question=question, query=question, sentences=(), cited=(), passages=(), abstained=True,
                  confidence=0.0, mode=options.mode, filters=options.filters, note=reason,
                  timings={"total": time.perf_counter() - started}, as_of=as_of.isoformat(), reason=reason)


def _to_date(value: date | str) -> date:
    return check_date(value, "as of")  # 1900..2100: time words never overflow a date


def as_turn(item: Answer | Turn | str) -> Turn:
    if isinstance(item, Turn):
        return item
    if isinstance(item, str):
        return Turn(item, item)
    if item.kind == "briefing":  # a briefing's stories are not one topic to follow up on
        return Turn(item.question, item.question)
    return Turn(item.question, item.query, "" if item.abstained else item.text,
                tuple(dict.fromkeys(c.passage.article_id for c in item.cited)),
                tuple((s.article_id, s.start, s.end) for s in item.sentences))


def _boost(passages: list[Passage], article_ids: tuple[str, ...]) -> list[Passage]:
    """Follow-ups: passages of the articles cited in the previous turn move up, in the order they were
    cited there ([1] first), each article's passages in their retrieval order."""
    if not article_ids:
        return passages
    order = {article_id: i for i, article_id in enumerate(article_ids)}
    first = sorted((p for p in passages[:20] if p.article_id in order), key=lambda p: order[p.article_id])
    moved = {id(p) for p in first}  # by identity: == would read every passage's text
    return first + [p for p in passages if id(p) not in moved]


def _settings_of(manifest):
    from index.chunk import ChunkSettings

    return ChunkSettings(**manifest.chunking)


def ensure_demo_index(encoder) -> Path:
    """Build (or refresh, incrementally) the bundled demo corpus's index and return its folder."""
    from index.demo import demo_files, demo_index_dir
    from index.ingest import build_index

    folder = demo_index_dir(encoder.name)
    build_index(demo_files(), folder, encoder)
    return folder
