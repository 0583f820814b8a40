"""How much of an archive is template sentences, and how often answers quote them (issue 11, session 6).

    python -m eval.template_sentences --index DIR [--answers OUT/rtqa ...] [--at 3,5,10,11,20,100]

For each N: how many distinct candidate sentences (15+ characters, reading as a sentence) N or more
articles of the index hold, and their occurrences; then, for each folder of `assistant eval --out`
per-question files, how many answers quote such a sentence. Counts come from the store
(`Snapshot.sentence_spread`), so they are what the engine drops at `AskSettings.template_articles`. Run
it on dev outputs to choose N; it opens the index for reading (an older one gets its counts on open).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

_CITATIONS = re.compile(r"\s*(?:\[\d+\])+\s*")
_DATE_PREFIX = re.compile(r"^\(\d{4}-\d\d-\d\d\) ")  # "How did X evolve?" answers date each sentence


def archive_spread(snapshot) -> Counter[str]:
    """normalised candidate sentence -> articles holding it, as the store counts them."""
    from assistant.evidence import MIN_SENTENCE_CHARS, reads_as_sentence
    from index.sentence_spread import normalise

    texts: dict[str, str] = {}
    for info in snapshot.articles():
        for sentence in snapshot.sentences(info.id):
            if len(sentence.text) >= MIN_SENTENCE_CHARS and reads_as_sentence(sentence.text):
                texts.setdefault(normalise(sentence.text), sentence.text)
    occurrences = Counter()
    for key, text in texts.items():
        occurrences[key] = snapshot.sentence_spread([text])[0]
    return occurrences


def answer_sentences(answer: str) -> list[str]:
    return [_DATE_PREFIX.sub("", s) for s in _CITATIONS.split(answer) if s.strip()]


def quoting(snapshot, folder: Path, at: list[int]) -> tuple[int, dict[int, int]]:
    """(answers, N -> answers quoting a sentence N or more articles hold) of one eval output folder."""
    rows = [json.loads(line) for path in sorted(folder.glob("per_question-*.jsonl")) for line in path.open()]
    answered = [r for r in rows if not r["abstained"]]
    most = [max(snapshot.sentence_spread(answer_sentences(r["answer"])), default=0) for r in answered]
    return len(answered), {n: sum(m >= n for m in most) for n in at}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True)
    parser.add_argument("--answers", type=Path, nargs="*", default=[], help="assistant eval --out folders")
    parser.add_argument("--at", default="3,5,10,11,20,100")
    args = parser.parse_args(argv)
    at = [int(n) for n in args.at.split(",")]

    from index.backends import open_store

    store = open_store(args.index)
    snapshot = store.snapshot()
    try:
        spread = archive_spread(snapshot)
        print(f"{args.index}: {len(spread)} distinct candidate sentences")
        for n in at:
            held = [c for c in spread.values() if c >= n]
            print(f"  held by >= {n:3d} articles: {len(held):6d} sentences, in {sum(held):7d} article places")
        for folder in args.answers:
            answered, quoted = quoting(snapshot, folder, at)
            print(f"{folder}: {answered} answers; quoting a sentence held by >= N articles: "
                  + ", ".join(f"N={n}: {k} ({k / max(1, answered):.1%})" for n, k in quoted.items()))
    finally:
        snapshot.close()
        store.close()


if __name__ == "__main__":
    main()
