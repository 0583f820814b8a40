"""The Milvus backend against a real server (session fixture `milvus_server`): the protocol, the CLI
commands on milvus://, and replicas that share nothing but Milvus. The engine's own behaviour on Milvus
is the conformance suite in test_engine.py (parametrized over BACKENDS)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from index.filters import Filters
from tests.conftest import REPO, run_cli
from tests.fakes import NEWS_ARTICLES, FakeEncoder, make_assistant


def test_filters_compile_to_milvus_expressions():
    pytest.importorskip("pymilvus")
    from index.milvus import filter_expression

    expr = filter_expression(Filters(sources=("Harbor Times",), article_ids=('a"b',), date_from="2020-06-01",
                                     exclude_article_ids=("x",)))
    assert expr == ('source_key in ["harbor times"] and article_id in ["a\\"b"] and article_id not in ["x"]'
                    ' and (date != "" and date >= "2020-06-01")')
    window = filter_expression(Filters(date_from="2020-06-01", date_to="2020-06-30"), keep_undated=True)
    assert window == '(date == "" or (date != "" and date >= "2020-06-01" and date <= "2020-06-30"))'


def test_which_servers_have_the_bm25_function():
    pytest.importorskip("pymilvus")
    from index.milvus import has_bm25_function

    assert [has_bm25_function(v) for v in ("v2.3.5", "2.4.17", "v2.5.0", "v2.6.1", "milvus_lite-3.2.2",
                                           "milvus_lite-2.4.12")] == [False, False, True, True, True, False]


def test_bm25_from_counts_is_the_index_bm25s_builds_bit_for_bit():
    """The replicas' whole-article BM25 is computed from kept term counts; it must be the very index bm25s
    builds from the same ids (the embedded store's ranking), down to the float32 scores."""
    import random
    from collections import Counter

    import bm25s
    from bm25s.tokenization import Tokenized

    from index.milvus import bm25_from_counts

    rng = random.Random(5)
    vocab = {f"w{i}": i for i in range(400)}  # some words occur in no document (left by removed articles)
    docs = [[rng.choice(range(300)) if rng.random() < 0.7 else rng.randrange(20) for _ in range(rng.randrange(0, 90))]
            for _ in range(120)]
    expected = bm25s.BM25()
    expected.index(Tokenized(ids=docs, vocab=dict(vocab)), show_progress=False)
    counted = [Counter(d) for d in docs]
    got = bm25_from_counts([(np.fromiter(c.keys(), np.int64, len(c)), np.fromiter(c.values(), np.float32, len(c)),
                             len(d)) for c, d in zip(counted, docs, strict=True)], vocab)
    for key in ("data", "indices", "indptr"):
        assert got.scores[key].dtype == expected.scores[key].dtype, key
        assert np.array_equal(got.scores[key], expected.scores[key]), key
    assert got.scores["num_docs"] == expected.scores["num_docs"]
    assert vars(got).keys() == vars(expected).keys()
    assert got.vocab_dict == expected.vocab_dict and got.unique_token_ids_set == expected.unique_token_ids_set
    query = [["w3", "w7", "w150"]]
    ids, scores = got.retrieve(query, k=10, show_progress=False, n_threads=1)
    want_ids, want_scores = expected.retrieve(query, k=10, show_progress=False, n_threads=1)
    assert np.array_equal(ids, want_ids) and np.array_equal(scores, want_scores)


def test_the_bounded_cache_drops_the_least_recently_used():
    from index.milvus import BoundedCache

    cache = BoundedCache(3)
    cache.update({1: "a", 2: "b", 3: "c"})
    assert cache.get(1) == "a"  # now the most recently used
    cache.update({4: "d"})
    assert 2 not in cache and [cache.get(k) for k in (1, 3, 4)] == ["a", "c", "d"] and len(cache) == 3
    cache.update({5: "e", 6: "f", 7: "g", 8: "h"})  # more at once than it holds: the last three stay
    assert [k for k in range(1, 9) if k in cache] == [6, 7, 8]


@pytest.fixture
def milvus_index(milvus_server, request):
    from tests.conftest import drop_milvus, new_milvus_location

    location = new_milvus_location(milvus_server)
    request.addfinalizer(lambda: drop_milvus(location))
    return location


@pytest.mark.milvus
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_what_the_launcher_starts_ends_with_the_process_that_started_it(tmp_path):
    """A test run killed mid-session must not leave its Milvus holding the host's one lock: the server is
    spawned so that it gets SIGTERM when its parent dies, even by SIGKILL."""
    pytest.importorskip("milvus")
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time, milvus
        from index.milvus_server import _dying_with_this_process
        with _dying_with_this_process():
            child = milvus.subprocess.Popen(["sleep", "60"])
        print(child.pid, flush=True)
        time.sleep(60)
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)
    import milvus

    assert milvus.subprocess.Popen is subprocess.Popen  # patched only while the server starts


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.milvus
def test_the_milvus_snapshot_implements_the_whole_protocol(milvus_index, tmp_path_factory):
    from index.milvus import MilvusMask
    from index.store import Snapshot, Store

    engine = make_assistant(tmp_path_factory, location=milvus_index)
    try:
        snapshot = engine.snapshot
        assert isinstance(engine.store, Store) and isinstance(snapshot, Snapshot)
        protocol = {n for n in dir(Snapshot) if not n.startswith("_")} | set(Snapshot.__annotations__)
        assert all(hasattr(snapshot, n) for n in protocol)
        assert len(set(snapshot.chunk_article_keys.tolist())) == len(NEWS_ARTICLES)
        harbor = snapshot.mask(Filters(sources=("harbor times",)))
        assert isinstance(harbor, MilvusMask) and set(snapshot.chunk_sources[snapshot.allowed(harbor)]) == {
            "Harbor Times"}
        june = snapshot.intersect(harbor, snapshot.mask(Filters(date_from="2020-06-09", date_to="2020-06-30")))
        positions, _ = snapshot.search_dense(FakeEncoder().encode(["police"])[0], 10, june)
        assert {snapshot.chunk(int(p)).article_id for p in positions} == {"amazon"}  # filtered on the server
        assert snapshot.search_dense(np.ones(64, dtype=np.float32), 10, snapshot.mask(Filters(article_ids=("none",)))
                                     )[0].size == 0
        assert "BM25 in this process" in engine.store.describe()
    finally:
        engine.close()


@pytest.mark.milvus
def test_replacing_and_removing_an_article(milvus_index, tmp_path, tmp_path_factory):
    engine = make_assistant(tmp_path_factory, location=milvus_index)
    try:
        changed = tmp_path / "ibm.md"
        changed.write_text(NEWS_ARTICLES["ibm.md"].replace("national dialogue", "national conversation"))
        report = engine.ingest([str(changed)])
        assert report.updated == ["ibm"] and report.chunks_embedded == 1
        assert "national conversation" in engine.article("ibm").body
        assert engine.snapshot.size == 3  # replaced, not added
        assert engine.remove(["amazon", "nope"]) == (["amazon"], ["nope"])
        assert sorted(a.id for a in engine.articles()) == ["ibm", "weather"]
        assert all(p.article_id != "amazon" for p in engine.ask("Rekognition moratorium").passages)
        # each generation was read as the difference from the one before: the same as reading it whole
        from index.milvus import MilvusSnapshot, MilvusTables

        tables = engine.snapshot.tables
        whole = MilvusSnapshot(engine.store, MilvusTables.read(engine.store, tables.generation, tables.ts))
        assert whole.tables.chunk_ids.tolist() == tables.chunk_ids.tolist()
        assert whole.tables.texts == tables.texts and whole.tables.article_ids == tables.article_ids
        for query in ("national conversation", "IBM facial recognition", "Rekognition moratorium"):
            # the same hits in the same order (scores differ a little: tantivy counts deleted documents in
            # its statistics until segments merge, as in the embedded store)
            assert engine.snapshot.search_keyword(query, 5)[0].tolist() == whole.search_keyword(query, 5)[0].tolist()
            assert (engine.snapshot.search_articles(query, 5)[0].tolist()
                    == whole.search_articles(query, 5)[0].tolist())
        assert whole.search_keyword("Rekognition", 5)[0].size == 0  # the removed article's words are gone
    finally:
        engine.close()


@pytest.mark.milvus
def test_an_answer_reads_only_sentence_vectors_and_two_searches_from_the_server(milvus_index, tmp_path_factory):
    """The answer path's reads: collection handles made once (each made asks the server twice), sentences
    from the chunk texts in memory (no body read), each window's dense search with the window as its
    expression and its keyword search as a day range inside tantivy, the same hits as masked searches."""
    from pymilvus import Collection

    from assistant.retrieve import Prior, _start_window, _window_hits

    engine = make_assistant(tmp_path_factory, location=milvus_index)
    calls = []
    try:
        snapshot = engine.snapshot
        for kind in ("chunks", "articles", "meta"):
            engine.store._collection(kind)
        originals = {name: getattr(Collection, name) for name in ("search", "query", "__init__")}

        def spy(name):
            def call(self, *args, **kwargs):
                calls.append((name, getattr(self, "name", args[0] if args else "")))
                return originals[name](self, *args, **kwargs)
            return call

        for name in originals:
            setattr(Collection, name, spy(name))
        try:
            answer = engine.ask("Which company announced a moratorium on police use of Rekognition?",
                                as_of="2020-06-12")  # the news week before holds two of the three
        finally:
            for name, original in originals.items():
                setattr(Collection, name, original)
        assert answer.sentences and not [c for c in calls if c[0] == "__init__"]
        assert not [c for c in calls if c[0] == "query" and c[1].endswith("_articles")]  # no body, no head read
        assert [c for c in calls if c[0] == "search"] == [("search", f"{engine.store.name}_chunks")] * 2
        for sentence in answer.sentences:  # texts sliced from chunks are the body's own, offset-exact
            assert engine.article(sentence.article_id).body[sentence.start:sentence.end] == sentence.text
        for passage in answer.passages:  # passages made from the tables' texts: the body's own, offset-exact
            assert engine.article(passage.article_id).body[passage.start:passage.end] == passage.text
            assert snapshot.info(passage.article_id) is snapshot.info(passage.article_id)
        for article_id in ("ibm", "amazon", "weather"):
            from_body = [(x.start, x.end, x.text) for x in snapshot._body_sentences(article_id)]
            assert [(x.start, x.end, x.text) for x in snapshot.sentences(article_id)] == from_body

        vector = FakeEncoder().encode(["facial recognition police"])[0]
        prior = Prior("2020-06-09", "2020-06-30", 1.0)
        native = _window_hits(snapshot, "facial recognition police", vector, 10, None, None, prior)
        started = _start_window(snapshot, "facial recognition police", vector, 10, None, None, prior)()
        type(snapshot).search_window = None  # the generic path: masked searches
        try:
            generic = _window_hits(snapshot, "facial recognition police", vector, 10, None, None, prior)
        finally:
            del type(snapshot).search_window
        assert started.dense[0].tolist() == native.dense[0].tolist()  # started early, the same hits
        assert started.keyword[0].tolist() == native.keyword[0].tolist()
        assert native.dense[0].tolist() == generic.dense[0].tolist() and native.dense[0].size > 0
        assert native.keyword[0].tolist() == generic.keyword[0].tolist() and native.keyword[0].size > 0
        assert native.inside.tolist() == generic.inside.tolist() and not native.inside.all()
    finally:
        engine.close()


@pytest.mark.milvus
def test_a_snapshot_never_serves_a_later_version_of_an_article(milvus_index, tmp_path, tmp_path_factory):
    """Reads see at least, not exactly, their generation: a body replaced since is refused (SnapshotExpired,
    which the engine answers by taking the newest snapshot), never passed off as this generation's."""
    from index.backends import open_store
    from index.chunk import ChunkSettings
    from index.ingest import ingest_into
    from index.load import load_inputs
    from index.store import SnapshotExpired

    engine = make_assistant(tmp_path_factory, location=milvus_index)
    try:
        old = engine.snapshot
        changed = tmp_path / "ibm.md"
        changed.write_text(NEWS_ARTICLES["ibm.md"].replace("national dialogue", "national conversation"))
        other = open_store(milvus_index)  # another process's writer
        try:
            ingest_into(other, load_inputs([str(changed)]), FakeEncoder(), ChunkSettings())
        finally:
            other.close()
        with pytest.raises(SnapshotExpired):
            old.article("ibm")
        assert any("national dialogue" in x.text for x in old.sentences("ibm"))  # its own version, from memory
        engine.reload()
        assert "national conversation" in engine.article("ibm").body
    finally:
        engine.close()


@pytest.mark.milvus
def test_cli_ingest_ask_articles_info_remove_on_milvus(milvus_index, tmp_path, monkeypatch, capsys):
    """ingest and ask in-process with the fake model (the CLI would load the real one); the listing
    commands through the real entry point, which loads no model."""
    import assistant.commands
    from assistant.cli import main

    monkeypatch.setattr(assistant.commands, "encoder_for", lambda args: FakeEncoder())
    for name, text in NEWS_ARTICLES.items():
        (tmp_path / name).write_text(text)
    assert main(["ingest", "--index", milvus_index, "--no-progress", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("added 3, updated 0, unchanged 0, skipped 0")
    assert main(["ask", "--index", milvus_index, "--json", "Which company announced a moratorium on police use of "
                                                          "Rekognition?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["sentences"][0]["article_id"] == "amazon"

    listing = run_cli("articles", "--index", milvus_index, home=tmp_path / "home")
    assert listing.returncode == 0
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == ["weather", "amazon", "ibm"]
    info = run_cli("info", "--index", milvus_index, home=tmp_path / "home")
    assert info.returncode == 0
    assert "store:      milvus v2.3.5" in info.stdout and "BM25 in this process" in info.stdout
    assert "articles:   3" in info.stdout and "chunks:     3" in info.stdout
    removed = run_cli("remove", "--index", milvus_index, "ibm", "nope", home=tmp_path / "home")
    assert removed.returncode == 1 and removed.stdout.strip() == "removed ibm" and "'nope'" in removed.stderr
    assert "articles:   2" in run_cli("info", "--index", milvus_index, home=tmp_path / "home").stdout
    missing = run_cli("articles", "--index", milvus_index + "x", home=tmp_path / "home")
    assert missing.returncode == 2 and "no index here" in missing.stderr


REPLICA = textwrap.dedent("""
    import json, sys, time
    from assistant.engine import Assistant
    from tests.fakes import FakeEncoder
    engine = Assistant.load(sys.argv[1], encoder=FakeEncoder())
    print("ready", flush=True)
    sys.stdin.readline()  # the test has started the third process's ingest
    started = time.monotonic()
    while time.monotonic() - started < 30:
        answer = engine.ask("Did the tram line open on schedule?")
        if answer.passages and answer.passages[0].article_id == "tram":
            break
        time.sleep(0.05)
    print(json.dumps({"seen_after": time.monotonic() - started, "answer": answer.text,
                      "ranking": [p.article_id for p in answer.passages]}), flush=True)
""")


@pytest.mark.milvus
def test_two_replicas_see_a_third_process_ingest_and_answer_alike(milvus_index, tmp_path, tmp_path_factory):
    make_assistant(tmp_path_factory, location=milvus_index).close()
    replicas = []
    for n in range(2):  # different working folders, nothing shared but the server
        cwd = tmp_path / f"replica{n}"
        cwd.mkdir()
        replicas.append(subprocess.Popen([sys.executable, "-c", REPLICA, milvus_index], cwd=cwd, text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}))
    try:
        assert [r.stdout.readline().strip() for r in replicas] == ["ready", "ready"]
        (tmp_path / "tram.md").write_text("---\nid: tram\ntitle: Tram line opens\n---\nThe new tram line opened "
                                          "on schedule on Monday, the city said.\n")
        for r in replicas:
            r.stdin.write("go\n")
            r.stdin.flush()
        started = time.monotonic()
        writer = make_assistant(tmp_path_factory, location=milvus_index, articles={})
        writer.ingest([str(tmp_path / "tram.md")])
        committed = time.monotonic() - started
        writer.close()
        seen = [json.loads(r.stdout.readline()) for r in replicas]
    finally:
        for r in replicas:
            r.kill()
            r.wait()
    assert all(s["ranking"][0] == "tram" for s in seen)
    assert all(s["seen_after"] - committed < 5.0 for s in seen), (committed, seen)
    assert seen[0]["answer"] == seen[1]["answer"] and seen[0]["ranking"] == seen[1]["ranking"]


@pytest.mark.milvus
def test_server_listens_beyond_loopback_only_on_the_ports_no_setting_binds(local_milvus):
    """etcd and everything else on 127.0.0.1; beyond loopback exactly the Go servers that 2.3.5 binds to
    ":PORT" whatever milvus.yaml says (index/milvus_server.py). A new socket beyond loopback fails this, and
    so does a server version that binds them locally (then the documented list must go)."""
    from index.milvus_server import ALL_INTERFACES, listening_sockets

    if local_milvus is None:
        pytest.skip("ARTICLE_ASSISTANT_TEST_MILVUS names a server this session did not start")
    ports = local_milvus.ports()
    sockets = listening_sockets(local_milvus.server.server_proc.pid)
    assert ("127.0.0.1", ports["etcd_port"]) in sockets
    exposed = {port for _, port in local_milvus.exposed()}
    assert exposed == {ports[key] for key in ALL_INTERFACES}, sorted(sockets)
    assert ports["etcd_port"] not in exposed and local_milvus.port in exposed


@pytest.mark.milvus
def test_one_writer_per_name_across_processes_by_a_lease(milvus_index, tmp_path, tmp_path_factory, monkeypatch):
    """A second writer (another process's store: its own owner id) is refused in one line while the first
    writes, waits for it with wait=True, takes over an expired lease, and a writer that lost its lease
    commits nothing."""
    import threading

    import index.milvus_lease as lease
    from index.backends import open_store
    from index.store import IndexBusy

    make_assistant(tmp_path_factory, location=milvus_index).close()
    first, second = open_store(milvus_index), open_store(milvus_index)
    try:
        with first.writer(wait=False):
            assert first._lease.holder()["owner"] == first._lease.owner
            with pytest.raises(IndexBusy) as busy, second.writer(wait=False):
                pass
            message = str(busy.value)
            assert "\n" not in message and first._lease.owner in message and milvus_index in message
        assert first._lease.holder() is None  # given back at the end

        said: list[str] = []
        entered = threading.Event()

        def hold():
            with first.writer():
                entered.set()
                time.sleep(1.5)

        holder = threading.Thread(target=hold)
        holder.start()
        entered.wait(10)
        started = time.monotonic()
        with second.writer(wait=True, on_wait=said.append):
            waited = time.monotonic() - started
        holder.join()
        assert len(said) == 1 and said[0].startswith("waiting:") and waited > 0.5

        monkeypatch.setattr(lease, "LEASE_SECONDS", 0.5)
        stalled = open_store(milvus_index)
        try:
            with stalled.writer(wait=False):
                stalled._lease._stop.set()  # its renewal stops: the writer stalls past its expiry
                time.sleep(0.7)
                with second.writer(wait=False):  # the expired lease is taken over
                    assert second._lease.holder()["owner"] == second._lease.owner
                    with pytest.raises(IndexBusy, match="lost the writer lease"):
                        stalled.commit([], removals=["ibm"])
        finally:
            stalled.close()
        assert sorted(a.id for a in first.snapshot().articles()) == ["amazon", "ibm", "weather"]
    finally:
        first.close()
        second.close()


@pytest.mark.milvus
def test_keyword_search_runs_on_the_server_where_it_has_bm25(lite_milvus, request, tmp_path_factory):
    """milvus-lite has the BM25 function: chunks' BM25 is the server's (filters compiled to its expression),
    `assistant info` says so, and answers come out as on the other paths."""
    from tests.conftest import drop_milvus, new_milvus_location

    location = new_milvus_location(lite_milvus)
    request.addfinalizer(lambda: drop_milvus(location))
    engine = make_assistant(tmp_path_factory, location=location)
    try:
        snapshot = engine.snapshot
        assert engine.store.server_bm25 and "chunk BM25 on the server" in engine.store.describe()
        assert snapshot.tables.keywords.size == 0  # nothing indexed in this process for chunks
        positions, scores = snapshot.search_keyword("Rekognition moratorium", 5)
        assert [snapshot.chunk(int(p)).article_id for p in positions] == ["amazon"] and scores[0] > 0
        police = [snapshot.chunk(int(p)).article_id for p in snapshot.search_keyword("police", 5)[0]]
        assert sorted(police) == ["amazon", "ibm"]
        harbor = snapshot.mask(Filters(sources=("harbor times",)))
        assert [snapshot.chunk(int(p)).article_id for p in snapshot.search_keyword("police", 5, harbor)[0]] == [
            "amazon"]
        assert snapshot.search_keyword("zzyzx", 5)[0].size == 0
        answer = engine.ask("Which company announced a moratorium on police use of Rekognition?", mode="keyword")
        assert answer.passages[0].article_id == "amazon" and "moratorium" in answer.text
    finally:
        engine.close()
