"""Questions the index cannot be searched with: gibberish, only common words, another language.

No model and no library: short questions are where language detectors guess worst ("Wer ist Joy
Buolamwini?" is two function words and a name), so this counts function words per language, looks at
the script, and checks that the words look like words (vowels, no long runs of one letter, letter pairs
that English uses). Each check returns the reason in plain words, or "" when the question is fine.
The index is taken to hold English articles: the stemmer, the stopwords and the bundled model are English.
"""

from __future__ import annotations

import re
import unicodedata

INDEX_LANGUAGE = "English"

_LETTERS = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

ENGLISH = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my no nor not now of off
on once only or other our out over own same she should so some such than that the their theirs them then there
these they this those through to too under until up very was we were what when where which while who whom whose why
will with would you your yours also many much may might must shall tell told say said says according s t""".split())

# Function words that English does not share (so "was", "die", "in", "also", "is" are left out).
FOREIGN = {
    "French": frozenset("""qui que quoi quel quelle quels quelles est sont était été le la les des du de un une et
        ou où pourquoi comment quand combien il elle ils elles nous vous sur dans pour avec sans pas ce cette ces
        fait dit au aux qu c'est l'a a-t-il a-t-elle leur leurs entre après avant aussi très""".split()),
    "German": frozenset("""wer wie warum wo wann welche welcher welches der das den dem des und nicht ein eine
        einen einem mit für von zu über hat haben wurde wurden sind ist sich auf bei nach aus auch noch um oder
        aber wenn weil sein seine ihre ihr dass gesagt gemacht""".split()),
    "Spanish": frozenset("""qué quién quiénes quien cómo dónde cuándo cuál cuáles por porque el los las un una y es
        de del con para sobre se su sus lo al fue ha han hizo dijo son está están pero muy también entre""".split()),
    "Italian": frozenset("""chi che cosa come dove quando perché il lo gli di del della dei un una è e per con su ha
        hanno fatto detto sono non anche tra dopo prima""".split()),
    "Portuguese": frozenset("""quem que o os as um uma é e do da dos das em para com por não foi disse fez como onde
        quando porque sobre são está também entre""".split()),
    "Dutch": frozenset("""wie wat waarom hoe waar wanneer welke de het een en van zijn heeft hebben deed zei niet
        met voor naar dat ook maar over""".split()),
}

# Letter pairs English words use: the 290 pairs that make up at least 0.02% of the letter pairs inside words
# of the bundled demo articles. A word mostly made of other pairs ("asdkjh": dk, kj, jh) is not a word.
_COMMON_PAIRS = frozenset("""
ab ac ad af ag ai ak al am an ap ar as at au av aw ay az ba be bi bl bm bo br bu by ca cc ce ch ci ck cl co cr cs ct
cu cy da de dg di do dr ds du dv dy ea eb ec ed ee ef eg eh ei ek el em en eo ep eq er es et eu ev ew ex ey fa fe ff
fi fl fo fr ft fu fy ga ge gh gi gl gn go gr gs gt gu gy ha he hi hm hn ho hr ht hu ia ib ic id ie if ig il im in io
ir is it iu iv iz ja je jo ju ke ki kn ko ks la ld le lg li ll lo lp ls lt lu ly ma mb me mi mm mo mp mr ms mu na nc
nd ne nf ng ni nl nm nn no ns nt nu nv ny oa ob oc od oe of og oi ok ol om on oo op or os ot ou ov ow oy pa pe ph pi
pl po pp pr ps pt pu qu ra rb rc rd re rg ri rk rl rm rn ro rp rr rs rt ru rv ry sa sc sd se sh si sk sl sm so sp ss
st su sy ta tc te th ti tl tm to tp tr ts tt tu tw ty ua ub uc ud ue ug ui ul um un up ur us ut va ve vi vo wa we wh
wi wm wn wo wr ws xa xi xp xt yd ye yi yo ys ze zo
""".split())

_REPEAT = re.compile(r"(.)\1\1")  # "xxx": the same letter three times running


def refusal(question: str) -> str:
    """Why the question cannot be searched, in plain words; "" when it can."""
    text = question.strip()
    if not text:
        return "the question is empty"
    words = _LETTERS.findall(text)
    if not words:
        return "the question has no words to search for"
    if foreign := other_language(text):
        return (f"this looks like {foreign}, and the index holds {INDEX_LANGUAGE} articles: "
                f"please ask in {INDEX_LANGUAGE}")
    if looks_like_gibberish(words):
        return "the question does not look like words, so there is nothing to search for"
    return ""


def only_common_words(question: str) -> bool:
    """Nothing but function words ("what is it?", "and then?"): no topic of its own."""
    return all(w.lower().strip("'’") in ENGLISH for w in _LETTERS.findall(question))


def other_language(text: str) -> str:
    """The language the question is written in when it is not English ("" when English or unsure):
    another script for most of its letters, or more function words of one other language than of English."""
    letters = [ch for ch in text if ch.isalpha()]
    if letters:
        latin = sum(_is_latin(ch) for ch in letters)
        if latin < len(letters) / 2:
            return _script(next(ch for ch in letters if not _is_latin(ch)))
    words = [w.lower() for w in _LETTERS.findall(text)]
    english = sum(w in ENGLISH for w in words)
    counts = {name: sum(w in vocabulary for w in words) for name, vocabulary in FOREIGN.items()}
    name, count = max(counts.items(), key=lambda item: item[1])
    # An accented lower-case word ("angekündigt", "anunció") is one more sign of the other language.
    accented = any(not ch.isascii() for w in _LETTERS.findall(text) if w.islower() for ch in w)
    count += accented
    if count >= 2 and count > english:
        return name
    return ""


def looks_like_gibberish(words: list[str]) -> bool:
    """Most of the question's content words are not word-like (function words are not counted)."""
    content = [w for w in words if w.lower() not in ENGLISH]
    if not content:
        return False
    letters = sum(len(w) for w in content)
    bad = sum(len(w) for w in content if not _wordlike(w))
    return bad >= letters / 2


def _wordlike(word: str) -> bool:
    lower = word.lower().replace("’", "'").strip("'")
    if word.isupper() and len(word) <= 6:  # acronyms: NHS, UEFA
        return True
    if len(lower) <= 3:
        return not _REPEAT.search(lower)
    if len(lower) > 25 or _REPEAT.search(lower):
        return False
    if not re.search(r"[aeiouy]", lower):
        return False
    pairs = [lower[i:i + 2] for i in range(len(lower) - 1) if lower[i:i + 2].isalpha()]
    if not pairs:
        return True
    uncommon = sum(p not in _COMMON_PAIRS for p in pairs)
    return uncommon <= len(pairs) / 2


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "LATIN" in unicodedata.name(ch, "")


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for script, label in (("CYRILLIC", "Cyrillic script (Russian, Ukrainian...)"), ("CJK", "Chinese or Japanese"),
                          ("HIRAGANA", "Japanese"), ("KATAKANA", "Japanese"), ("HANGUL", "Korean"),
                          ("ARABIC", "Arabic script"), ("HEBREW", "Hebrew"), ("GREEK", "Greek"),
                          ("DEVANAGARI", "Devanagari script (Hindi...)"), ("THAI", "Thai")):
        if script in name:
            return label
    return "another script"
