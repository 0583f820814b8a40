"""Choose the weight of the whole-article BM25 list in the fusion, on dev splits only (not a test).

    python -m eval.tune_article_list --rtqa-index DIR --bbc-index DIR [--weights 0,0.5,1,2]

Prints article Hit@1, Hit@5 and MRR@10 (hybrid, time-aware) per weight on the RealTime QA dev weeks and
the dev halves of the written BBC questions; the chosen weight goes into engine.AskSettings with a
comment naming these splits. Test splits are scored once afterwards with `assistant eval --part test`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from eval.fit_answers import DATA, SHARED


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtqa-index", type=Path, default=None, help="left out when not given")
    parser.add_argument("--bbc-index", type=Path, required=True)
    parser.add_argument("--weights", default="0,0.5,1,2")
    parser.add_argument("--part", default="dev", choices=("dev", "test"))
    args = parser.parse_args(argv)

    from assistant.engine import AskSettings, Assistant
    from eval.datasets import load_questions
    from eval.runs import Config, run_config
    from index.embed import encoder_for_index

    sets = [("rtqa", args.rtqa_index, SHARED / "realtimeqa_news" / "questions.jsonl"),
            ("bbc", args.bbc_index, DATA / "bbc_questions.jsonl"),
            ("bbc2", args.bbc_index, DATA / "bbc_questions_2.jsonl")]
    sets = [s for s in sets if s[1] is not None]
    encoder = encoder_for_index(args.bbc_index)
    engines = {index: Assistant.load(index, encoder=encoder) for _, index, _ in sets}
    print(f"{'weight':>7} " + " ".join(f"{name + ' ' + m:>12}" for name, _, _ in sets for m in ("hit@1", "hit@5",
                                                                                                "mrr")))
    for weight in (float(w) for w in args.weights.split(",")):
        cells = []
        for _, index, path in sets:
            engine = engines[index]
            engine.settings = replace(AskSettings(), article_list_weight=weight)
            metrics = run_config(engine, load_questions(path, part=args.part), Config()).metrics
            cells += [metrics["hit@1"], metrics["hit@5"], metrics["mrr@10"]]
        print(f"{weight:>7.2f} " + " ".join(f"{c:>12.3f}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
