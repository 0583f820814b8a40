"""The app in a real browser (Debian's Chromium through Playwright) on the demo corpus with the real model:
an answer with a citation opens its passage's article with the sentence highlighted in place; the time note
shows and "Search all dates" asks again in one click; the Evaluation tab runs; an uploaded article full of
HTML and script payloads shows as text and runs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ui.screenshot import CHROMIUM, VIEWPORT, ask, free_port, launch_chromium, open_marker

pytestmark = [pytest.mark.browser, pytest.mark.model,
              pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]  # Gradio's own pandas warnings

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

HOSTILE = {
    "id": "zanzibar-payloads",
    "title": '<script>window.__xss=1</script><img src=x onerror="window.__xss=2;alert(2)"> Zanzibar payloads',
    "source": "<b>Evil</b> Source",
    "published_at": "2020-06-09",
    "url": "javascript:window.__xss=5",
    "body": (
        'The Zanzibar harbour cameras recorded every ferry passenger <img src=x onerror="window.__xss=3;alert(3)"> '
        "for the port police. Click [here](javascript:window.__xss=4) for **bold** claims about the Zanzibar "
        "cameras. <script>window.__xss=6</script> The Zanzibar harbour cameras used "
        '<svg onload="window.__xss=7"></svg> face matching on crowds. </div></div></div>'
        "<style>body{display:none}</style> Officers said $$x^2$$ and `code` and # not a heading.\n\n"
        '<iframe src="javascript:window.__xss=8"></iframe> ' + "Z" * 300 + " ends the Zanzibar report."
    ),
}
INJECTED = "img[onerror], svg[onload], iframe, a[href^='javascript' i]"
CONTENT = "#chat, #passages, #article-view, #articles-table"


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory):
    """The bundled demo corpus indexed with the real model into a temporary folder."""
    from assistant.engine import Assistant
    from index.demo import DEMO_CORPUS
    from index.embed import load_encoder
    from index.ingest import build_index

    encoder = load_encoder()
    folder = tmp_path_factory.mktemp("demo-index")
    build_index([str(DEMO_CORPUS)], folder, encoder)
    engine = Assistant.load(folder, encoder=encoder)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def app_url(demo_engine):
    from ui.app import build_app, launch

    app = build_app(demo_engine)
    _, url, _ = launch(app, port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    app.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.dialogs, page.accept_confirm = [], False

    def on_dialog(dialog):  # every dialog is recorded; only an expected confirmation is accepted
        page.dialogs.append(dialog.message)
        dialog.accept() if dialog.type == "confirm" and page.accept_confirm else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(app_url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def test_answer_cites_and_opens_the_highlighted_sentence(page):
    ask(page, "For how long is Amazon stopping police from using Rekognition?")
    answer = page.locator('#chat [data-testid="bot"]').last
    assert "year" in answer.inner_text()
    assert answer.locator('a[href$="-1"]').first.inner_text() == "[1]"
    assert page.locator("#passages .cite-card").count() == len(
        {a.get_attribute("href") for a in answer.locator('a[href*="#cite-"]').all()})
    assert page.locator("#passages .cite-card mark.hl").count() >= 1

    open_marker(page, 1)
    assert page.locator("#passages .cite-card.selected .num").inner_text() == "[1]"
    first = page.locator("#article-view .article-body mark.hl").first
    highlighted = " ".join(first.inner_text().split())
    assert highlighted and highlighted in " ".join(answer.inner_text().split())
    # Scrolled so that the first highlight is inside the article's visible area.
    inside = page.evaluate("""() => {
        const body = document.querySelector('#article-view .article-body').getBoundingClientRect();
        const mark = document.querySelector('#article-view .article-body mark').getBoundingClientRect();
        return mark.top >= body.top - 1 && mark.top < body.bottom;
    }""")
    assert inside

    # A card opens its article too, and a follow-up goes on with the same conversation.
    cards = page.locator("#passages .cite-card")
    cards.last.click()
    page.wait_for_function("() => document.querySelector('#passages .cite-card.selected') !== null")
    ask(page, "And Microsoft?")
    assert page.locator('#chat [data-testid="bot"]').count() == 2
    page.locator("#new-conversation").click()
    page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 0")
    assert page.locator("#passages .panel-empty").count() == 1


def test_time_note_and_search_all_dates(page):
    ask(page, "What did IBM announce in June 2020?")
    bots = page.locator('#chat [data-testid="bot"]')
    dated = " ".join(bots.last.inner_text().split())
    assert "Searching articles from June 2020" in dated and "As of 2022-07-01" in dated  # the demo's newest date
    button = page.locator("#search-all-dates")
    button.wait_for(state="visible", timeout=10_000)
    button.click()  # one click: the same question again, its dates not used
    page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 2",
                           timeout=60_000)
    assert "again, over all dates" in page.locator('#chat [data-testid="user"]').last.inner_text()
    assert "all dates searched" in " ".join(bots.last.inner_text().split())
    button.wait_for(state="hidden", timeout=10_000)
    assert page.locator("#passages .panel").get_attribute("data-turn") == "1"


def test_evaluation_tab_runs_the_demo_questions(page):
    page.get_by_role("tab", name="Evaluation").click()
    assert page.locator("#eval-dataset input").first.input_value() == "demo_questions.jsonl"
    for mode in ("dense", "keyword"):  # hybrid only, and a few questions: quick
        page.locator("#eval-modes").get_by_label(mode).uncheck()
    page.locator("#eval-limit textarea, #eval-limit input").first.fill("4")
    page.locator("#eval-run").click()
    page.wait_for_function("() => document.querySelector('#eval-status textarea').value.startsWith('Evaluated')",
                           timeout=120_000)
    assert "Evaluated 4 questions from demo_questions.jsonl in 1 mode(s) (hybrid)" in page.locator(
        "#eval-status textarea").input_value()
    assert page.locator("#eval-report table").count() == 1
    assert "recall@5" in page.locator("#eval-report").inner_text()
    page.wait_for_selector("#eval-plot img", timeout=20_000)
    assert page.locator("#eval-failures").is_visible()


def test_hostile_upload_is_shown_as_text_and_runs_nothing(page, tmp_path):
    upload = tmp_path / "zanzibar.json"
    upload.write_text(json.dumps(HOSTILE))
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#upload input[type=file]").set_input_files(str(upload))
    page.wait_for_function("() => document.querySelector('#corpus-status textarea').value.includes('Added 1')",
                           timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('#articles-table').innerText.includes('Zanzibar payloads')", timeout=20_000)
    assert HOSTILE["title"] in page.locator("#articles-table").inner_text()

    page.get_by_role("tab", name="Ask").click()
    ask(page, "What did the Zanzibar harbour cameras record?")
    card = page.locator("#passages .cite-card", has_text="Zanzibar payloads").first
    assert HOSTILE["title"] in card.locator(".title").inner_text()
    assert "javascript:window.__xss=5" in card.locator(".meta").inner_text()  # shown, not linked
    card.click()
    page.wait_for_selector("#article-view .article", timeout=20_000)
    body = page.locator("#article-view .article-body").inner_text()
    for literal in ('<img src=x onerror="window.__xss=3;alert(3)">', "[here](javascript:window.__xss=4)",
                    "**bold**", "<script>window.__xss=6</script>", "<style>body{display:none}</style>", "$$x^2$$"):
        assert literal in body
    chat = page.locator('#chat [data-testid="bot"]').last.inner_text()
    # The answer quotes the hostile article: its markup shows as text, the [1] marker is the only link.
    assert "Zanzibar" in chat and '<img src=x onerror="window.__xss=3;alert(3)">' in chat
    assert page.locator('#chat [data-testid="bot"]').last.locator("a").count() >= 1
    assert page.locator('#chat [data-testid="bot"]').last.locator("a:not([href*='#cite-'])").count() == 0

    page.wait_for_timeout(500)  # give any payload a chance to run
    assert page.dialogs == []
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(INJECTED).count() == 0
    tags = page.evaluate("""selector => [...document.querySelectorAll(selector)]
        .filter(e => !e.closest('svg')).map(e => e.outerHTML)""",  # Gradio's icons carry their own <style>
                         ", ".join(f"{c} script, {c} style" for c in CONTENT.split(", ")))
    assert tags == []
    assert page.evaluate("() => getComputedStyle(document.body).display") != "none"
    # The 300-character word wraps: nothing is pushed beyond the window's width.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_upload_then_remove_after_confirmation(page, tmp_path):
    article = tmp_path / "lighthouse-note.md"
    article.write_text("---\ntitle: Lighthouse keeper retires\nsource: Port Gazette\npublished_at: 2020-06-12\n---\n"
                       "The lighthouse keeper retired after forty years.\n")
    page.get_by_role("tab", name="Corpus").click()
    page.locator("#upload input[type=file]").set_input_files(str(article))
    page.wait_for_function("() => document.querySelector('#articles-table').innerText.includes('Lighthouse keeper')",
                           timeout=60_000)

    page.accept_confirm = True
    page.locator("#remove-select input").click()
    page.locator("#remove-select input").fill("lighthouse")
    page.get_by_role("option", name="Lighthouse keeper retires (lighthouse-note)").click()
    page.locator("#remove-button").click()
    page.wait_for_function("() => document.querySelector('#corpus-status textarea').value.includes('Removed 1')",
                           timeout=20_000)
    page.wait_for_function(
        "() => !document.querySelector('#articles-table').innerText.includes('Lighthouse keeper')", timeout=20_000)
    assert page.dialogs == ["Remove 1 article(s) from the index?"]
