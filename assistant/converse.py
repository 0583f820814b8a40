"""Follow-up questions without a language model.

A question that leans on earlier turns ("What did she find?", "Why was he arrested?", "When does the
ban start?", "And Amazon?") is rewritten into one readable question that stands alone ("What did Joy
Buolamwini find?"), which is what gets searched and what the note shows. A pronoun or a definite
reference is replaced by the entity it most likely names: the entities of the previous question (its
subject first) and of its answer, then older turns with less weight, filtered by kind (he/she: a person;
it/the company: not a person). Only the last resolved question is drawn on, never the accumulated
history, so the query cannot snowball. A question with its own topic stands alone.

Why no library: spaCy's coreference and NER models are not on PyPI (re-uploads are, unmaintained), and
a news conversation's references are mostly to the one or two names just asked about, which capitalised
spans and a few cues (Mr./Ms., "Who is X?", company words) find well enough, in microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.language import ENGLISH
from assistant.summarize import content_terms

# --- references ------------------------------------------------------------------------------------------

_PERSON_PRONOUNS = {"he": "m", "him": "m", "his": "m", "himself": "m", "she": "f", "her": "f", "hers": "f",
                    "herself": "f"}
_THING_PRONOUNS = {"it", "its", "itself"}
_GROUP_PRONOUNS = {"they", "them", "their", "theirs"}
_POSSESSIVES = {"his", "its", "their"}  # "her" is decided by what follows it
_PRONOUN = re.compile(r"\b(he|him|his|himself|she|her|hers|herself|it|its|itself|they|them|their|theirs)\b", re.I)
# "the company" names an organisation: it is replaced by the name. "the ban" names something the entity did
# or had: it becomes "Boston's ban". Demonstratives ("that decision", "this law") count the same.
ROLE_NOUNS = ("company firm group business retailer bank carmaker airline broadcaster network club team side "
              "band city council state country government agency department startup giant chain "
              "organisation organization institute university party league union commission court").split()
PERSON_ROLE_NOUNS = ("man woman boss chief executive ceo president minister player manager coach singer actor "
                     "actress star researcher scientist author founder senator chairman spokesman spokeswoman "
                     "lawyer judge officer director").split()
EVENT_NOUNS = ("ban bill law act study report research paper decision move announcement deal case lawsuit suit "
               "settlement pause moratorium plan proposal policy rule rules letter statement pledge arrest "
               "trial verdict ruling vote election match game final tour album film show book merger takeover "
               "bid offer strike protest protests investigation inquiry findings results test scheme programme "
               "program project campaign contract agreement fine sale sales sentence charges complaint "
               "software system technology service product measure ordinance legislation regulation proposal").split()
_DEFINITE = re.compile(r"\b(?P<det>the|this|that|these|those)\s+(?:(?P<adjective>[a-z]+)\s+)?(?P<noun>[a-z]+)\b")
_SHIFT = re.compile(r"^\s*(?:and|what about|how about|and what about|same for|what of|but)\b[\s,]*(?P<rest>.*?)"
                    r"\s*[?.!]*\s*$", re.I)
_ELLIPSIS_WORDS = frozenset("why how when where who what which whom whose else more other others then so really "
                            "again next happened happen happens mean meant".split())

# --- entities --------------------------------------------------------------------------------------------

_ENTITY = re.compile(r"\b(?:(?:Mr|Mrs|Ms|Dr|Prof)\.\s+)?(?:[A-Z][a-zA-Z0-9&'’-]*\.?|[A-Z]{2,})"
                     r"(?:\s+(?:[A-Z][a-zA-Z0-9&'’-]*|of the|of|for|de|van|von|al)(?=\s|$|[^\w]))*")
_QUESTION_WORDS = {"What", "Who", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are", "Was",
                   "Were", "Can", "Could", "Will", "Would", "Should", "And", "The", "A", "An", "In", "On", "It",
                   "He", "She", "They", "This", "That", "Tell", "Give", "Show", "List", "Has", "Have", "Had", "I",
                   "His", "Her", "Its", "Their", "Them", "Him", "But", "So", "Then", "Also", "After", "Before",
                   "According", "Meanwhile", "However", "Mr", "Mrs", "Ms", "Dr", "Prof", "Whose", "Whom",
                   "If", "As", "At", "By", "For", "From", "Of", "To", "With", "About", "Last", "Next",
                   "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January",
                   "February", "March", "April", "May", "June", "July", "August", "September", "October",
                   "November", "December", "What's", "Who's", "Where's", "Latest", "News"}
_LEADING = frozenset("some many most several other others another every each few both either neither one two "
                     "three yet still even only now however meanwhile instead".split())
_HONORIFIC = re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Lord|Lady|Dame|President|Senator|Judge)\.?\s+"
                        r"(?P<name>[A-Z][a-zA-Z'’-]+)")
_ORG_WORDS = frozenset("""inc corp corporation ltd plc llc co group council department police university college
union commission bank airways airlines motors association league party office agency institute court parliament
congress senate government club fc united city county state ministry committee board network news times post
service services technologies technology systems labs lab media studios records foundation trust fund act bill
law project research review lab league cup championship open games olympics energy oil gas petroleum pharma
foods holdings capital partners airways telecom mobile electric industries entertainment pictures studios software
networks communications insurance brands stores motors mining steel railways rail""".split())
_FEMALE_HONORIFICS = {"Mrs", "Ms", "Miss", "Lady", "Dame"}
_MALE_HONORIFICS = {"Mr", "Sir", "Lord"}


@dataclass(frozen=True)
class Turn:
    """What a follow-up may borrow from an earlier turn."""

    question: str  # as asked
    query: str  # as searched: the rewritten question when it was itself a follow-up
    answer_text: str = ""
    cited_article_ids: tuple[str, ...] = ()
    shown: tuple[tuple[str, int, int], ...] = ()  # (article id, start, end) of each answer sentence

    @classmethod
    def from_dict(cls, item: dict) -> Turn:
        """An earlier Answer as JSON (the API's history items)."""
        cited = tuple(dict.fromkeys(c["passage"]["article_id"] for c in item.get("cited") or []
                                    if isinstance(c, dict) and isinstance(c.get("passage"), dict)))
        shown = tuple((str(s["article_id"]), int(s["start"]), int(s["end"])) for s in item.get("sentences") or []
                      if isinstance(s, dict) and {"article_id", "start", "end"} <= set(s))
        text = "" if item.get("abstained") else str(item.get("text") or "")
        return cls(str(item["question"]), str(item.get("query") or item["question"]), text, cited, shown)


@dataclass(frozen=True)
class Resolved:
    query: str  # one readable question to search for
    is_follow_up: bool
    boost_article_ids: tuple[str, ...] = ()
    note: str = ""
    kind: str = "standalone"  # standalone, pronoun, definite, ellipsis or topic_shift
    topic: str = ""  # the entity a reference was resolved to


@dataclass(frozen=True)
class _Candidate:
    name: str
    weight: float
    person: bool | None  # None: cannot tell
    gender: str | None  # "m", "f" or None
    turn: int  # 0 = the last turn


def entities(text: str, running: bool = False) -> list[str]:
    """Capitalised names in the text (IBM, Arvind Krishna, Justice in Policing Act), in order. In
    `running` text (answers) a name opening a sentence counts only when its first word also appears
    capitalised mid-sentence: "Shares in Cairn Energy fell" names Cairn Energy, not "Shares"."""
    found = []
    for match in _ENTITY.finditer(text):
        if running and _opens_sentence(text, match.start()):
            first = match.group().split()[0]
            if not re.search(rf"(?<![.!?]\s)(?<!^)\b{re.escape(first)}\b", text[match.end():]):
                rest = match.group().split()[1:]
                if not rest or not rest[0][:1].isupper():
                    continue
        words = match.group().strip(" .").split()
        while words and (words[0].rstrip(".") in _QUESTION_WORDS or words[0].lower() in ENGLISH
                         or words[0].lower() in _LEADING) and not _is_honorific(words):
            words = words[1:]  # "What", "Some", "Many": a capital because the sentence starts there
        while words and words[-1].lower() in {"of", "the", "for", "de", "van", "von", "al"}:
            words = words[:-1]
        name = re.sub(r"['’]s?$", "", " ".join(words))
        if len(name) > 1 and name not in found:
            found.append(name)
    return found


def _opens_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?\"“"


def _is_honorific(words: list[str]) -> bool:
    return len(words) > 1 and words[0].rstrip(".") in {"Mr", "Mrs", "Ms", "Dr", "Prof"}


def resolve(question: str, history: Sequence[Turn]) -> Resolved:
    """The question to search for, given the conversation so far (newest turn last)."""
    question = question.strip()
    if not history:
        return Resolved(question, False)
    last = history[-1]
    shift = _SHIFT.match(question)
    if shift and shift.group("rest") and not _has_reference(shift.group("rest")):
        return _topic_shift(question, shift.group("rest"), last)

    references = _references(question, history)
    if references:
        query, topic, kind = _substitute(question, references, history)
        if query != question:
            source = _source_turn(topic, history)
            return Resolved(query, True, source.cited_article_ids, f"read as: {query}", kind, topic)
    if _is_elliptical(question):
        topic = _subject(last)
        if topic:
            query = f"{question.rstrip(' ?.!')}? (about {topic})" if topic.lower() not in question.lower() else question
        else:
            query = f"{question.rstrip(' ?.!')}? ({last.query.rstrip(' ?.!')})"
        return Resolved(query, True, last.cited_article_ids, f"read as: {query}", "ellipsis", topic)
    return Resolved(question, False)


def _topic_shift(question: str, new_topic: str, last: Turn) -> Resolved:
    """"And Amazon?" after "What did IBM announce?" → "What did Amazon announce?"."""
    base = last.query
    old = entities(base)
    new_entities = entities(new_topic)
    if old and new_entities:
        topic = new_topic.strip()
        if re.search(rf"\bthe\s+{re.escape(old[0])}", base, re.I):
            topic = re.sub(r"(?i)^the\s+", "", topic)
        query = base.replace(old[0], topic, 1)
    elif re.match(r"(?i)(in|on|during|since|after|before|by|last|this|from)\b", new_topic):  # "And in 2021?"
        query = f"{base.rstrip(' ?.!')} {new_topic.strip()}?"
    elif old:
        query = base.replace(old[0], new_topic.strip(), 1)
    else:
        query = f"{base.rstrip(' ?.!')} ({new_topic.strip()})?"
    return Resolved(query, True, (), f"read as: {query}", "topic_shift", new_topic.strip())


def _has_reference(text: str) -> bool:
    return bool(_PRONOUN.search(text))


def _is_elliptical(question: str) -> bool:
    """"Why?", "How many?", "What else?": no topic words of its own."""
    words = re.findall(r"[A-Za-z']+", question.lower())
    if entities(question):
        return False
    topical = [w for w in words if content_terms(w) and w not in _ELLIPSIS_WORDS]
    return len(topical) == 0 or (len(words) <= 3 and len(topical) <= 1)


@dataclass(frozen=True)
class _Reference:
    start: int
    end: int
    text: str
    kind: str  # "person", "thing", "group", "role", "person_role" or "event"
    gender: str | None = None
    possessive: bool = False
    noun: str = ""


def _references(question: str, history: Sequence[Turn]) -> list[_Reference]:
    """Pronouns and definite references in the question that point outside it."""
    own = entities(question)
    found: list[_Reference] = []
    for match in _PRONOUN.finditer(question):
        word = match.group().lower()
        if word in _PERSON_PRONOUNS:
            kind, gender = "person", _PERSON_PRONOUNS[word]
        elif word in _THING_PRONOUNS:
            kind, gender = "thing", None
        else:
            kind, gender = "group", None
        possessive = word in _POSSESSIVES or (word == "her" and _followed_by_noun(question, match.end()))
        if own and _own_antecedent(question, match.start(), own, kind):
            continue  # "Did Microsoft say when it would sell?": "it" is Microsoft, already in the question
        found.append(_Reference(match.start(), match.end(), match.group(), kind, gender, possessive))
    previous = " ".join(f"{t.query} {t.answer_text}" for t in history[-3:]).lower()
    for match in _DEFINITE.finditer(question):
        noun, end = match.group("noun"), match.end()
        if match.group("adjective") and not _known_noun(noun):
            noun, end = match.group("adjective"), match.end("adjective")  # "the ban take effect": "ban"
        if noun in ROLE_NOUNS:
            kind = "role"
        elif noun in PERSON_ROLE_NOUNS:
            kind = "person_role"
        elif noun in EVENT_NOUNS or (len(noun) > 3 and content_terms(noun) & content_terms(previous)):
            kind = "event"
        else:
            continue
        if kind == "event" and any(name in question[:match.start()] for name in own):
            continue  # "What did IBM say about the ban?": its own topic
        if kind in ("role", "person_role") and _own_antecedent(
                question, match.start(), own, "person" if kind == "person_role" else "thing"):
            continue  # "Did IBM say what the company would do?"
        found.append(_Reference(match.start(), end, question[match.start():end], kind, noun=noun))
    # A pronoun names its entity more surely than "the film" does ("Who directed the film she co-wrote?").
    return sorted(found, key=lambda r: (r.kind not in ("person", "thing", "group"), r.start))


def _known_noun(word: str) -> bool:
    return word in ROLE_NOUNS or word in PERSON_ROLE_NOUNS or word in EVENT_NOUNS


def _followed_by_noun(question: str, end: int) -> bool:
    """'her study' (possessive) versus 'about her' or 'tell her that' (object)."""
    rest = re.match(r"\s+([A-Za-z'-]+)", question[end:])
    return bool(rest) and rest.group(1).lower() not in {
        "that", "to", "about", "in", "on", "at", "for", "with", "and", "or", "from", "after", "before", "when",
        "if", "by", "as", "so", "the", "a", "an", "up", "out", "off", "into", "again"}


def _own_antecedent(question: str, position: int, own: list[str], kind: str) -> bool:
    """The question names, before the pronoun, an entity the pronoun can refer to."""
    before = question[:position]
    for name in own:
        if name in before:
            person, _ = _kind_of(name, "")
            if kind == "person" and person is not False:
                return True
            if kind in ("thing", "group") and person is not True:
                return True
    return False


def _candidates(history: Sequence[Turn]) -> list[_Candidate]:
    """Entities of the last turns, weighted: the previous question's subject most, then its other
    names, then names in its answer; each older turn counts half as much."""
    out: dict[str, _Candidate] = {}
    for age, turn in enumerate(reversed(history[-4:])):
        decay = 0.5 ** age
        context = f"{turn.question} {turn.query} {turn.answer_text}"
        scored: list[tuple[str, float]] = []
        for i, name in enumerate(entities(turn.query)):
            scored.append((name, (3.0 if i == 0 else 2.0) * _modifier_weight(name, turn.query) * decay))
        for i, name in enumerate(entities(turn.answer_text, running=True)):
            scored.append((name, (1.0 / (1 + 0.2 * i)) * decay))
        for name, weight in scored:
            key = _canonical(name, out)
            person, gender = _kind_of(name, context)
            if key in out:
                old = out[key]
                out[key] = _Candidate(old.name if len(old.name) >= len(name) else name, old.weight + weight,
                                      old.person if old.person is not None else person, old.gender or gender,
                                      min(old.turn, age))
            else:
                out[key] = _Candidate(name, weight, person, gender, age)
    return sorted(out.values(), key=lambda c: -c.weight)


_PLACES = frozenset("US USA UK EU UN Britain British America American Europe European England English Scotland "
                     "Wales Welsh Ireland Irish France French Germany German China Chinese Japan Japanese "
                     "India Indian Russia Russian".split())


def _modifier_weight(name: str, text: str) -> float:
    """Less for names that qualify another noun: a country ("US president George W Bush"), "members of
    Congress", "the Halloween screenwriter Debra Hill" (followed by a lower-case noun and then a name)."""
    if name in _PLACES:
        return 0.3
    if re.search(rf"\bof\s+(?:the\s+)?{re.escape(name)}", text):
        return 0.5
    if re.search(rf"\b{re.escape(name)}\s+[a-z]+\s+[A-Z]", text):
        return 0.5
    return 1.0


def _canonical(name: str, known: dict[str, _Candidate]) -> str:
    """"Mr. Smith" and "Smith" are "Brad Smith" when that name is already known."""
    bare = re.sub(r"^(Mr|Mrs|Ms|Dr|Prof)\.?\s+", "", name)
    for key, candidate in known.items():
        words = candidate.name.split()
        if bare == candidate.name or (len(words) > 1 and bare == words[-1]) or (
                len(bare.split()) > 1 and bare.split()[-1] == key):
            return key
    return bare


def _kind_of(name: str, context: str) -> tuple[bool | None, str | None]:
    """(is a person, gender) from the name's shape and the words around it."""
    words = re.sub(r"^(Mr|Mrs|Ms|Dr|Prof)\.?\s+", "", name).split()
    honorific = re.match(r"^(Mr|Mrs|Ms|Dr|Prof)\.?\s", name)
    gender = None
    if honorific:
        title = honorific.group(1)
        gender = "f" if title in _FEMALE_HONORIFICS else "m" if title in _MALE_HONORIFICS else None
        return True, gender
    for match in _HONORIFIC.finditer(context):
        if match.group("name") == words[-1]:
            title = match.group(1)
            gender = "f" if title in _FEMALE_HONORIFICS else "m" if title in _MALE_HONORIFICS else gender
            return True, gender
    if re.search(rf"\b(?:Who|who)\s+(?:is|was)\s+{re.escape(name)}\b", context):
        return True, None
    if any(w.lower().strip(".") in _ORG_WORDS for w in words) or name.isupper() or any(ch.isdigit() for ch in name):
        return False, None
    if 2 <= len(words) <= 3 and all(w[:1].isupper() and w[1:].islower() for w in words):
        return None, None  # "Joy Buolamwini", "Robert Williams", but also "Cairn Energy": the weights decide
    if len(words) == 1:
        return False, None  # one capitalised word: a company or a place (IBM, Amazon, Boston) more often
    return None, None


def _fits(candidate: _Candidate, reference: _Reference) -> bool:
    if reference.kind in ("person", "person_role"):
        return candidate.person is not False and (reference.gender is None or candidate.gender in (None,
                                                                                                  reference.gender))
    if reference.kind in ("thing", "role"):
        return candidate.person is not True
    return True  # "they", "the ban": anyone


def _substitute(question: str, references: list[_Reference], history: Sequence[Turn]) -> tuple[str, str, str]:
    """The question with its first reference replaced by the entity it names; (query, entity, kind)."""
    candidates = _candidates(history)
    for reference in references:
        fitting = [c for c in candidates if _fits(c, reference)]
        if reference.kind == "group":  # "they": an organisation more often than a person
            fitting.sort(key=lambda c: (c.person is True, -c.weight))
        if reference.kind == "role":  # "the council" after "The Boston City Council voted...": that name
            fitting.sort(key=lambda c: reference.noun not in c.name.lower())
        if reference.kind == "thing" and not _subject_position(question, reference.start):
            # "Who was allowed to use it?" after "What did Amazon announce about Rekognition?": the object
            # of the previous question (Rekognition), not its subject.
            named = entities(history[-1].query)
            objects = [c for c in fitting if c.name in named[1:] and c.person is not True]
            if objects and fitting[0].name == named[0]:
                fitting = objects + [c for c in fitting if c not in objects]
        if not fitting:
            continue
        name = fitting[0].name
        if reference.kind in ("role", "person_role"):
            replacement = name
        elif reference.kind == "event":
            phrase = _earlier_phrase(reference.noun, history[-1])
            words = reference.text.split()
            replacement = f"the {phrase}" if phrase else " ".join([_possessive(name)] + words[1:])
        elif reference.possessive:
            replacement = _possessive(name)
        else:
            replacement = name
        query = question[:reference.start] + replacement + question[reference.end:]
        kind = "pronoun" if reference.kind in ("person", "thing", "group") else "definite"
        return query, name, kind
    return question, "", ""


def _earlier_phrase(noun: str, turn: Turn) -> str:
    """"ACLU test" when the last turn spoke of "the ACLU test": the noun with the content words before it."""
    for text in (turn.query, turn.answer_text):
        for match in re.finditer(rf"((?:[\w’'.-]+\s+){{1,4}}){noun}s?\b", text, re.I):
            before = match.group(1).split()
            kept = []
            for word in reversed(before):
                if word.lower() in ENGLISH or not word[:1].isupper() or word.endswith((",", ".")) or \
                        _opens_sentence(text, match.start(1) + match.group(1).find(word)):
                    break
                kept.insert(0, word)
            if kept and not any(w.endswith(("'s", "’s")) for w in kept):
                return " ".join(kept + [match.group()[len(match.group(1)):]])
    return ""


_AUXILIARIES = frozenset("did does do is was are were has have had will would can could should may might".split())


def _subject_position(question: str, start: int) -> bool:
    """"What did it announce?", "It said?": the pronoun is the clause's subject."""
    before = re.findall(r"[A-Za-z']+", question[:start].lower())
    return not before or before[-1] in _AUXILIARIES or before[-1] in {"when", "why", "how", "where", "what"}


def _possessive(name: str) -> str:
    return f"{name}’" if name.endswith("s") else f"{name}’s"


def _subject(turn: Turn) -> str:
    names = entities(turn.query) or entities(turn.answer_text, running=True)
    return names[0] if names else ""


def _source_turn(topic: str, history: Sequence[Turn]) -> Turn:
    """The newest turn that names the entity (its cited articles are the likeliest to say more)."""
    for turn in reversed(history):
        if topic and topic.split()[-1] in f"{turn.query} {turn.answer_text}":
            return turn
    return history[-1]


# --- what the conversation has already shown ----------------------------------------------------------------

def shown_spans(history: Sequence) -> set[tuple[str, int]]:
    """(article id, start offset) of every sentence earlier answers showed. History items may be
    Answers, Turns or strings (a string shows nothing)."""
    spans: set[tuple[str, int]] = set()
    for item in history:
        if isinstance(item, Turn):
            spans.update((a, s) for a, s, _ in item.shown)
        elif not isinstance(item, str) and not getattr(item, "abstained", True):
            spans.update((s.article_id, s.start) for s in item.sentences)
    return spans


def shown_sentences(snapshot, history: Sequence) -> frozenset[tuple[str, int]]:
    """(article id, sentence index) of the sentences earlier answers showed, the keys sentence
    selection uses; a sentence of an article no longer indexed is skipped."""
    spans = shown_spans(history)
    keys = set()
    for article_id in {a for a, _ in spans}:
        try:
            starts = {s.start: i for i, s in enumerate(snapshot.sentences(article_id))}
        except KeyError:
            continue
        keys.update((article_id, starts[start]) for a, start in spans if a == article_id and start in starts)
    return frozenset(keys)


# A follow-up answers from sentences the conversation has not shown when the best of them has at least
# this share of the best sentence's probability; otherwise the shown sentences are the only real support and
# may be repeated (summarize.choose applies it). Fit on the conversations' dev split with the fitted sentence
# model (session 3): repeated-answer rate 0 / 0.036 / 0.036 / 0.036 / 0.071 and follow-up containment
# 0.375 / 0.575 / 0.575 / 0.575 / 0.550 at 0 / 0.1 / 0.2 / 0.3 / 0.5; follow-up Hit@5 0.95 throughout.
UNSEEN_MIN_SHARE = 0.2
