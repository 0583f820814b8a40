"""Issue 13's problems in a real browser (Debian's Chromium through Playwright) on the tiny fake-encoder
index, one launched app for the module: 20 quick questions get exactly 20 answers; a reload keeps the
conversation and the evaluation report; the export carries the sources; axe-core finds no serious or
critical violation on any tab, before and after an answer, light and dark; at 390 px an [n] opens the
passage in a drawer with the question still reachable; errors show at their field; [n] previews."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.fakes import make_ui_assistant
from ui.screenshot import CHROMIUM, launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

BOTS = '#chat [data-testid="bot"]'
QUESTION = "What did IBM say about facial recognition?"


def axe_source() -> str | None:
    try:
        import axe_playwright_python
    except ImportError:
        return None
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from ui.app import build_app, launch

    engine = make_ui_assistant(tmp_path_factory)
    app = build_app(engine, examples=["When may ferries be cancelled along the coast?"], secret="t" * 32)
    _, url, _ = launch(app, port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    app.close()
    engine.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    yield context
    context.close()


def open_page(context, url: str):
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("#question textarea")
    return page


def bots(page) -> int:
    return page.locator(BOTS).count()


def wait_bots(page, n: int, timeout: int = 30_000) -> None:
    page.wait_for_function(f"n => document.querySelectorAll('{BOTS}').length >= n", arg=n, timeout=timeout)


def ask(page, question: str) -> None:
    before = bots(page)
    page.locator("#question textarea").fill(question)
    page.locator("#ask-button").click()
    wait_bots(page, before + 1)
    page.wait_for_selector("#passages .panel", state="attached")


def test_first_screen_names_the_corpus_and_examples_send_on_click(context, app_url):
    page = open_page(context, app_url)
    assert page.locator("h1").inner_text() == "Article Assistant"
    assert "4 articles from 3 sources, published 2020-06-08 to 2021-03-02" in page.locator("#corpus-line").inner_text()
    example = page.locator("#example-0")
    assert example.inner_text() == "When may ferries be cancelled along the coast?"  # whole, not cut off
    example.click()
    wait_bots(page, 1)
    assert page.locator('#chat [data-testid="user"]').last.inner_text() == example.inner_text()


def test_twenty_quick_questions_get_exactly_twenty_answers(context, app_url):
    page = open_page(context, app_url)
    questions = [f"What did IBM say about facial recognition, question {i}?" for i in range(20)]
    for q in questions:  # as fast as the page takes them: no waiting for answers
        page.locator("#question textarea").fill(q)
        page.locator("#ask-button").click()
    page.locator("#question textarea").fill("")
    page.locator("#ask-button").dblclick()  # an empty box asks nothing
    wait_bots(page, 20)
    page.wait_for_timeout(1500)  # nothing more arrives
    users = page.locator('#chat [data-testid="user"]').all_inner_texts()
    assert sorted(users) == sorted(questions) and bots(page) == 20
    # The panel shows the last answer of the chat, never another one.
    assert page.locator("#passages .panel").get_attribute("data-turn") == "19"
    page.locator("#question textarea").fill(QUESTION)
    page.locator("#ask-button").dblclick()  # a double click is one question
    wait_bots(page, 21)
    page.wait_for_timeout(1500)
    assert bots(page) == 21


def test_reload_keeps_the_conversation_history_new_and_delete(context, app_url):
    page = open_page(context, app_url)
    ask(page, QUESTION)
    ask(page, "And Amazon?")
    page.reload()
    page.wait_for_selector("#question textarea")
    wait_bots(page, 2, timeout=10_000)
    assert "IBM said it will no longer offer" in page.locator(BOTS).first.inner_text()
    assert page.locator("#passages .panel").get_attribute("data-turn") == "1"
    page.locator(f'{BOTS} a[href*="#cite-0-1"]').first.click()  # restored answers still open their articles
    page.wait_for_selector("#article-view .article mark.hl")

    page.locator("#new-conversation").click()
    page.wait_for_function(f"() => document.querySelectorAll('{BOTS}').length === 0")
    ask(page, "When may ferries be cancelled?")
    page.reload()
    page.wait_for_selector("#question textarea")
    wait_bots(page, 1, timeout=10_000)
    page.locator("#history input").click()
    page.get_by_role("option", name="What did IBM say about facial recognition? (2 questions)").click()
    wait_bots(page, 2)
    assert "IBM said" in page.locator(BOTS).first.inner_text()


def test_export_contains_the_sources(context, app_url):
    page = open_page(context, app_url)
    ask(page, QUESTION)
    page.locator("#export").click()
    page.locator("#export-button").click()
    link = page.locator("#export-file a").first
    link.wait_for(timeout=10_000)
    with page.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "IBM said it will no longer offer general purpose facial recognition software. [1]" in text
    assert "1. **IBM leaves the face recognition market** · Ledger Wire · 2020-06-08 · <https://ledger.example/ibm>" \
        in text
    page.locator("#export-format").get_by_label("JSON").check()
    page.locator("#export-button").click()
    page.wait_for_function("() => (document.querySelector('#export-file a') || {}).href?.endsWith('.json')")
    with page.expect_download() as download:
        page.locator("#export-file a").first.click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["turns"][-1]["sources"][0]["url"] == "https://ledger.example/ibm"


def test_copy_gives_clean_text_with_sources(context, app_url):
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = open_page(context, app_url)
    ask(page, QUESTION)
    page.locator("#passages .copy-answer").click()
    page.wait_for_function("() => document.querySelector('#passages .copy-answer').textContent === 'Copied'")
    copied = page.evaluate("() => window.__articleAssistantCopied")
    assert copied.startswith("IBM said it will no longer offer") and "#cite-" not in copied and "\\[" not in copied
    assert "[1] IBM leaves the face recognition market · Ledger Wire · 2020-06-08 · https://ledger.example/ibm" \
        in copied
    label = page.locator(f'{BOTS} [aria-label]').first.get_attribute("aria-label") or ""
    assert "#cite-" not in label and "\\[" not in label  # screen readers get text, not markdown


def test_errors_show_at_their_field_and_nothing_is_asked(context, app_url):
    page = open_page(context, app_url)
    page.locator("#options").get_by_text("Filters and answer options").click()
    page.locator("#filter-from textarea").fill("June")
    page.locator("#question textarea").fill(QUESTION)
    page.locator("#ask-button").click()
    page.wait_for_selector("#filter-from .validation-error", timeout=10_000)
    assert "must look like 2020-06-10, not 'June'" in page.locator("#filter-from").inner_text()
    page.wait_for_function("q => document.querySelector('#question textarea').value === q", arg=QUESTION)
    assert bots(page) == 0 and page.locator('#chat [data-testid="user"]').count() == 0


def test_marker_preview_on_hover_and_focus(context, app_url):
    page = open_page(context, app_url)
    ask(page, QUESTION)
    marker = page.locator(f'{BOTS} a[href*="#cite-"]').first
    marker.hover()
    tip = page.locator("#aa-preview")
    tip.wait_for(timeout=5_000)
    assert "IBM leaves the face recognition market · Ledger Wire · 2020-06-08: IBM said" in tip.inner_text()
    page.mouse.move(0, 0)
    marker.focus()
    tip.wait_for(timeout=5_000)
    assert marker.get_attribute("aria-describedby") == "aa-preview"
    outline = marker.evaluate("e => getComputedStyle(e).outlineWidth")
    assert outline == "3px"  # the focus ring is visible


def test_phone_width_opens_sources_in_a_drawer_and_keeps_the_question(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = open_page(context, app_url)
        drawer_open = "() => document.querySelector('#sources-column').hasAttribute('data-open')"
        assert not page.evaluate(drawer_open) and not page.locator("#passages").is_visible()
        ask(page, QUESTION)
        scroll = page.evaluate("() => window.scrollY")
        page.locator(f'{BOTS} a[href*="#cite-"]').first.tap()
        page.wait_for_selector("#article-view .article mark.hl")
        page.wait_for_timeout(400)  # the drawer slides in
        assert page.evaluate(drawer_open)
        card = page.locator("#passages .cite-card.selected")
        box = card.bounding_box()
        assert box and 0 <= box["y"] < 844  # the passage is on screen
        assert abs(page.evaluate("() => window.scrollY") - scroll) < 5  # the chat did not jump away
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.locator("#close-sources").tap()
        page.wait_for_timeout(400)
        assert not page.evaluate(drawer_open)
        page.locator("#question textarea").tap()  # the question is reachable again
        page.keyboard.type("And Amazon?")
        page.locator("#ask-button").tap()
        wait_bots(page, 2)
    finally:
        context.close()


@pytest.mark.skipif(axe_source() is None, reason="axe-playwright-python (the dev extra) is not installed")
def test_axe_finds_no_serious_or_critical_violations(browser, app_url):
    source = axe_source()
    found = {}
    for theme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(app_url + ("?__theme=dark" if theme == "dark" else ""))
        page.wait_for_selector("#question textarea")

        def check(name: str, page=page, theme=theme) -> None:
            page.wait_for_timeout(400)
            if not page.evaluate("() => !!window.axe"):
                page.add_script_tag(content=source)
            violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
                .violations.filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => v.id + ': ' + v.nodes.map(n => n.html.slice(0, 120)).join(' | '))""")
            found[f"{theme} {name}"] = violations

        for tab in ("Ask", "Corpus", "Evaluation"):
            page.get_by_role("tab", name=tab).click()
            check(f"{tab} before an answer")
        page.get_by_role("tab", name="Ask").click()
        ask(page, QUESTION)
        page.locator(f'{BOTS} a[href*="#cite-"]').first.click()
        page.wait_for_selector("#article-view .article")
        check("Ask after an answer")
        context.close()
    assert found and all(v == [] for v in found.values()), found


def test_corpus_refusals_and_cancelled_removal_say_so(context, app_url, tmp_path):
    page = open_page(context, app_url)
    page.get_by_role("tab", name="Corpus").click()
    bad = tmp_path / "tool.exe"
    bad.write_text("MZ")
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function("() => document.querySelector('#corpus-status textarea').value.includes('tool.exe')",
                           timeout=20_000)
    assert "not an accepted type" in page.locator("#corpus-status textarea").input_value()
    assert page.locator("#corpus-status .error, #upload .error").count() == 0  # a message, not a bare badge
    page.locator("#remove-select input").click()
    page.get_by_role("option").first.click()
    page.locator("#remove-button").click()  # the confirmation is dismissed
    page.wait_for_function(
        "() => document.querySelector('#corpus-status textarea').value.startsWith('Removal cancelled')",
        timeout=10_000)
    assert page.dialogs and page.dialogs[-1].startswith("Remove 1 article(s)")


def test_evaluation_report_survives_a_reload(context, app_url, tmp_path):
    page = open_page(context, app_url)
    page.get_by_role("tab", name="Evaluation").click()
    page.locator("#eval-source").get_by_label("An uploaded questions file").check()
    questions = tmp_path / "mine.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "What did IBM say about facial recognition?",
                                     "answer": "general purpose", "evidence": [{"article_id": "ibm"}]}) + "\n")
    page.locator("#eval-upload input[type=file]").set_input_files(str(questions))
    page.wait_for_timeout(1000)
    for mode in ("dense", "keyword"):
        page.locator("#eval-modes").get_by_label(mode).uncheck()
    page.locator("#eval-run").click()
    page.wait_for_function("() => document.querySelector('#eval-status textarea').value.startsWith('Evaluated')",
                           timeout=60_000)
    status = page.locator("#eval-status textarea").input_value()
    assert status.startswith("Evaluated 1 questions from mine.jsonl in 1 mode(s) (hybrid)")
    page.reload()
    page.wait_for_selector("#question textarea")
    page.get_by_role("tab", name="Evaluation").click()
    page.wait_for_function("s => document.querySelector('#eval-status textarea').value === s", arg=status,
                           timeout=10_000)
    assert "recall@5" in page.locator("#eval-report").inner_text()
