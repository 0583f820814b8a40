"""`assistant eval DATASET`: build or reuse the dataset's index, run each configuration, write reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(command) -> None:
    p = command("eval", "Measure retrieval and answers on a dataset (questions JSONL, BEIR folder, "
                "or 'synthetic' for questions drawn from the index itself).", "eval.command:run")
    p.add_argument("dataset", help="questions .jsonl (RealTime QA format), a BEIR folder, 'synthetic', a "
                   "conversations .jsonl (records with 'turns'), or 'briefings' (RealTime QA weeks, --questions)")
    p.add_argument("--modes", default="dense,keyword,hybrid", help="comma-separated retrieval modes")
    p.add_argument("-k", "--k", dest="ks", default="5", help="comma-separated passage counts for answers")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: runs/eval-<dataset>)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    p.add_argument("--synthetic-n", type=int, default=100, help="articles sampled for synthetic questions")
    p.add_argument("--time", choices=("on", "off", "both"), default="on",
                   help="time-awareness: the question's date as 'as of' and its time words (default on)")
    p.add_argument("--per-article", default="2",
                   help="comma-separated caps on passages per article among the k (grouping; default 2)")
    p.add_argument("--part", choices=("all", "dev", "test"), default="all",
                   help="only the declared dev or test split of a questions file (eval/data/README.md)")
    p.add_argument("--leave-gold-out", action="store_true",
                   help="also ask each gold question with its gold articles (and their near-duplicates) "
                        "filtered out: abstention precision/recall/F1 over both")
    p.add_argument("--corpus-index", action="append", default=[], metavar="NAME=DIR",
                   help="conversations: the index of a corpus the file names (e.g. bbc=runs/idx-bbc); "
                        "'demo' defaults to the bundled demo index")
    p.add_argument("--no-history", action="store_true",
                   help="conversations: ask every turn alone (the baseline a conversation must beat)")
    p.add_argument("--questions", type=Path, default=None,
                   help="briefings: RealTime QA questions.jsonl whose dates give the windows")
    p.add_argument("--json", action="store_true", help="print metrics per configuration as JSON")


def run(args) -> int:
    from eval.conversations import is_conversation_file

    if args.dataset == "briefings":
        return run_briefings(args)
    if is_conversation_file(args.dataset):
        return run_conversations(args)
    from assistant.commands import encoder_for
    from assistant.engine import Assistant
    from eval.datasets import DatasetError
    from eval.runs import Config, ensure_index, run_config, write_results

    encoder = encoder_for(args)
    try:
        dataset, index_dir = _dataset_and_index(args, encoder)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    index_dir, build_seconds = ensure_index(dataset, index_dir, encoder)
    assistant = Assistant.load(index_dir, encoder=encoder)
    times = {"on": [True], "off": [False], "both": [True, False]}[args.time]
    configs = [Config(mode.strip(), int(k), t, int(cap), args.leave_gold_out) for mode in args.modes.split(",")
               for k in args.ks.split(",") for t in times for cap in args.per_article.split(",")]
    results = {}
    for config in configs:
        print(f"running {config.name} on {len(dataset.questions)} questions ...", file=sys.stderr)
        results[config.name] = run_config(assistant, dataset, config, limit=args.limit)
    out = args.out or Path("runs") / f"eval-{dataset.name}"
    files = write_results(out, dataset, results, build_seconds, index_dir)
    if args.json:
        json.dump({name: r.metrics for name, r in results.items()}, sys.stdout, indent=2)
        print()
    else:
        print(files.report_md.read_text())
    print(f"reports in {out}", file=sys.stderr)
    return 0


def _dataset_and_index(args, encoder):
    from eval.datasets import load_dataset, synthetic_questions
    from index.demo import cache_home

    if args.dataset == "synthetic":
        from assistant.commands import resolve_index
        from index.backends import open_store

        index_dir = resolve_index(args)
        snapshot = open_store(index_dir).snapshot()
        articles = [(a.id, a.title, snapshot.article(a.id).body) for a in snapshot.articles()]
        return synthetic_questions(articles, n=args.synthetic_n), index_dir
    dataset = load_dataset(args.dataset, split=args.split, part=args.part)
    if dataset.articles_path is None:  # questions about an existing index (by default the demo corpus)
        from assistant.commands import resolve_index

        return dataset, resolve_index(args)
    index_dir = args.index or cache_home() / f"eval-index-{dataset.name}-{encoder.name}"
    return dataset, index_dir


def run_conversations(args) -> int:
    """Each conversation turn by turn, with the earlier answers as history (eval/conversations.py)."""
    from assistant.commands import encoder_for, resolve_index
    from assistant.engine import Assistant
    from eval.conversations import evaluate, load_conversations, table, write

    conversations = load_conversations(args.dataset, args.part)
    indexes = dict(item.split("=", 1) for item in args.corpus_index)
    assistants = {}
    for corpus in sorted({c.corpus for c in conversations}):
        if corpus in indexes:
            index_dir = Path(indexes[corpus])
        elif corpus == "demo":
            index_dir = resolve_index(args)
        else:
            print(f"error: conversations on '{corpus}' need --corpus-index {corpus}=DIR", file=sys.stderr)
            return 2
        assistants[corpus] = Assistant.load(index_dir, encoder=encoder_for(args))
    k = int(args.ks.split(",")[0])
    metrics, rows = evaluate(assistants, conversations, k=k, use_history=not args.no_history)
    out = args.out or Path("runs") / ("eval-conversations" + ("-nohistory" if args.no_history else ""))
    write(out, metrics, rows)
    print(json.dumps(metrics, indent=2) if args.json else table(metrics))
    print(f"reports in {out}", file=sys.stderr)
    return 0


def run_briefings(args) -> int:
    """"What happened in the past week?" as of each RealTime QA quiz date (eval/briefings.py)."""
    from assistant.commands import encoder_for, resolve_index
    from assistant.engine import Assistant
    from eval.briefings import evaluate, table, write

    if args.questions is None:
        print("error: briefings need --questions (RealTime QA questions.jsonl)", file=sys.stderr)
        return 2
    assistant = Assistant.load(resolve_index(args), encoder=encoder_for(args))
    metrics, rows = evaluate(assistant, args.questions, args.part, k=int(args.ks.split(",")[0]))
    out = args.out or Path("runs") / "eval-briefings"
    write(out, metrics, rows)
    print(json.dumps(metrics, indent=2) if args.json else table(metrics))
    print(f"reports in {out}", file=sys.stderr)
    return 0
