"""The viewer's page driven in a real browser (Playwright + Debian's /usr/bin/chromium).

One server for the module, one browser for the session. Skips with the reason when Playwright
or Chromium is missing or cannot start; the API tests (test_web_api.py) run regardless.
Screenshots go to $TEXTLRP_SCREENSHOTS when set, else to a pytest temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from conftest import random_model  # noqa: E402
from web_corpus import XSS_TEXT, corpus_rows, write_corpus  # noqa: E402
from web_server import running_server  # noqa: E402

import textlrp  # noqa: E402
from textlrp.data.tokenizer import tokenize  # noqa: E402
from textlrp.web import create_app  # noqa: E402

CHROMIUM = os.environ.get("TEXTLRP_CHROMIUM", "/usr/bin/chromium")
SENTENCE = "it never fails to engage us , a zzqxv ride ."
TIMEOUT_MS = 30_000


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        playwright = sync_api.sync_playwright().start()
    except Exception as exc:  # noqa: BLE001 - any start failure means no browser here
        pytest.skip(f"playwright could not start: {exc}")
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    except Exception as exc:  # noqa: BLE001
        playwright.stop()
        pytest.skip(f"chromium could not be launched: {exc}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="module")
def corpus_rows_written():
    return corpus_rows(40, seed=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory, corpus_rows_written):
    corpus = write_corpus(
        tmp_path_factory.mktemp("web-corpus") / "reviews.parquet", corpus_rows_written
    )
    models = {"sst": textlrp.load_model(), "tiny": random_model(num_classes=5, seed=4).float()}
    app = create_app(models, corpora=[corpus])
    with running_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("TEXTLRP_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.base = server
    yield page
    assert page.errors == [], f"JavaScript errors: {page.errors}"
    context.close()


def open_view(page, **params) -> None:
    query = urllib.parse.urlencode(params)
    page.goto(f"{page.base}/?{query}")
    page.wait_for_selector("body[data-ready=true]")


def heat_rows(page):
    return page.locator("#heatmaps .heat-row")


def set_methods(page, wanted: list[str]) -> None:
    for box in page.locator("#methods input").all():
        value = box.get_attribute("value")
        if box.is_checked() != (value in wanted):
            box.click()


def explain_and_wait(page, text: str) -> None:
    page.fill("#text", text)
    with page.expect_response(re.compile(r"/api/explain$")):
        page.click("#explain-button")
    page.wait_for_function("() => !document.querySelector('#explain-button').disabled")


def test_type_a_sentence_and_see_the_heatmaps(page, shots):
    open_view(page)
    set_methods(page, ["lrp", "gradient_x_input", "occlusion_f"])
    explain_and_wait(page, SENTENCE)
    rows = heat_rows(page)
    assert rows.count() == 3
    tokens = tokenize(SENTENCE)
    for k in range(3):
        spans = rows.nth(k).locator("span.tok")
        assert spans.count() == len(tokens)
        assert spans.all_text_contents() == tokens
        colours = spans.evaluate_all("s => s.map(x => getComputedStyle(x).backgroundColor)")
        assert all(c.startswith("rgb(") for c in colours)
        assert len(set(colours)) > 1  # coloured by relevance, not one flat colour
        # the strongest token is drawn in the full colour of its sign
        values = [float(v) for v in spans.evaluate_all("s => s.map(x => x.dataset.relevance)")]
        strongest = max(range(len(values)), key=lambda i: abs(values[i]))
        full = "rgb(255, 0, 0)" if values[strongest] > 0 else "rgb(0, 0, 255)"
        assert colours[strongest] == full
    unknown = rows.nth(0).locator("span.tok.unk")
    assert unknown.all_text_contents() == ["zzqxv"]
    assert "not in the vocabulary" in unknown.get_attribute("title")
    rows.nth(0).locator("span.tok").nth(1).hover()
    assert "relevance" in page.text_content("#hover-readout")
    assert page.locator("#prediction tbody tr").count() == 5
    assert "methods=gradient_x_input,lrp,occlusion_f" in page.url
    assert "text=it+never" in page.url
    page.screenshot(path=str(shots / "explain.png"), full_page=True)


def test_click_a_class_to_explain_it(page):
    open_view(page, text=SENTENCE, methods="lrp")
    page.wait_for_selector("#heatmaps .heat-row")
    before = heat_rows(page).first.locator(".legend b").text_content()
    target = "very positive" if before != "very positive" else "very negative"
    with page.expect_response(re.compile(r"/api/explain$")):
        page.click(f"#prediction tbody tr[data-class-name='{target}']")
    page.wait_for_function(
        f"() => document.querySelector('#heatmaps .legend b').textContent === '{target}'"
    )
    assert page.locator("#prediction tr.target td").first.text_content() == target
    assert "target=very+" in page.url
    assert page.input_value("#target") == target


def test_change_the_method_and_options(page):
    open_view(page, text=SENTENCE, methods="lrp")
    page.wait_for_selector("#heatmaps .heat-row")
    with page.expect_response(re.compile(r"/api/explain$")):
        page.locator("#methods input[value=gradient]").check()
    page.wait_for_function("() => document.querySelectorAll('#heatmaps .heat-row').length === 2")
    methods = heat_rows(page).evaluate_all("rows => rows.map(r => r.dataset.method)")
    assert methods == ["gradient", "lrp"]
    with page.expect_response(re.compile(r"/api/explain$")):
        page.select_option("#opt-product_rule", "half")
    page.wait_for_function(
        "() => document.querySelector('.heat-row[data-method=lrp] .heat-label').textContent"
        ".includes('product_rule=half')"
    )
    page.fill("#opt-eps", "-1")
    with page.expect_response(re.compile(r"/api/explain$")) as answer:
        page.press("#opt-eps", "Enter")
        page.dispatch_event("#opt-eps", "change")
    assert answer.value.status == 422
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "eps must be a finite number >= 0, got -1.0"


def test_a_shared_url_restores_the_view(page, shots):
    params = {
        "view": "explain",
        "text": "a great movie , not boring .",
        "methods": "gradient,lrp_cons",
        "target": "positive",
        "eps": "0.01",
        "product_rule": "prop",
    }
    open_view(page, **params)
    page.wait_for_function("() => document.querySelectorAll('#heatmaps .heat-row').length === 2")
    assert page.input_value("#text") == params["text"]
    assert page.input_value("#target") == "positive"
    assert page.input_value("#opt-eps") == "0.01"
    labels = heat_rows(page).locator(".heat-label").all_text_contents()
    assert labels[1].startswith("lrp_cons") and "eps=0.01" in labels[1]
    assert "product_rule=prop" in labels[1]
    assert heat_rows(page).first.locator(".legend b").text_content() == "positive"
    shared = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    for key, value in params.items():
        assert shared[key] == [value]
    page.screenshot(path=str(shots / "shared-url.png"), full_page=True)


def test_compare_two_models_side_by_side(page, shots):
    open_view(page, view="compare", text="the movie was not good .")
    page.select_option("#right-model", "tiny")
    page.select_option("#right-method", "lrp")
    with page.expect_response(re.compile(r"/api/explain$")):
        page.click("#compare-button")
    page.wait_for_function(
        "() => document.querySelector('#compare-right h3') &&"
        " document.querySelector('#compare-right h3').textContent.startsWith('tiny')"
    )
    left = page.locator("#compare-left span.tok")
    right = page.locator("#compare-right span.tok")
    assert left.count() == right.count() == 6
    assert page.text_content("#compare-left h3") == "sst · lrp"
    assert "right_model=tiny" in page.url
    page.screenshot(path=str(shots / "compare.png"), full_page=True)


def test_browse_filter_and_open_a_corpus_document(page, shots, corpus_rows_written):
    open_view(page, view="corpus")
    page.wait_for_selector("#corpus-table tbody tr")
    assert page.locator("#corpus-table tbody tr").count() == 20
    assert page.text_content("#corpus-summary") == f"{len(corpus_rows_written)} matching rows"
    with page.expect_response(re.compile(r"/documents\?")):
        page.select_option("#corpus-predicted", "positive")
    expected = sum(r["predicted_name"] == "positive" for r in corpus_rows_written)
    summary = f"{expected} matching rows"
    page.wait_for_function(
        f"() => document.querySelector('#corpus-summary').textContent === '{summary}'"
    )
    predicted = page.locator("#corpus-table tbody tr td:nth-child(4)").all_text_contents()
    assert predicted and set(predicted) == {"positive"}
    assert "predicted=positive" in page.url
    first_row = page.locator("#corpus-table tbody tr").first
    row_number = int(first_row.get_attribute("data-row"))
    first_row.click()
    page.wait_for_selector("#corpus-document .heat-row")
    document = corpus_rows_written[row_number]
    heat = page.locator("#corpus-document .heat-row").first
    assert heat.locator("span.tok").all_text_contents() == document["tokens"]
    assert page.locator("#corpus-document .heat-row").count() == 2  # lrp and gradient rows
    assert f"doc={row_number}" in page.url
    with page.expect_response(re.compile(r"/api/explain$")):
        page.click("#explain-live")
    page.wait_for_selector("#heatmaps .heat-row")
    assert page.input_value("#text") == document["text"]
    assert "view=explain" in page.url
    page.go_back()
    page.wait_for_selector("#corpus-document .heat-row")
    page.fill("#corpus-word", "great")
    page.select_option("#corpus-sort", "word")
    page.wait_for_selector("#corpus-table th:has-text('relevance of')")
    with page.expect_response(re.compile(r"/aggregate")):
        page.click("#corpus-aggregate")
    page.wait_for_selector("#corpus-aggregate-view table")
    page.screenshot(path=str(shots / "corpus.png"), full_page=True)


def test_xss_payloads_render_as_text(page, shots):
    # a corpus document holding <script> and an <img onerror> payload
    open_view(page, view="corpus", q="script", doc="0")
    page.wait_for_selector("#corpus-document .heat-row")
    page.wait_for_selector("#corpus-table tbody tr")
    assert page.text_content("#corpus-document pre") == XSS_TEXT
    tokens = page.locator("#corpus-document .heat-row").first.locator("span.tok")
    assert tokens.all_text_contents() == XSS_TEXT.split(" ")
    assert XSS_TEXT in page.text_content("#corpus-table tbody tr:first-child td.text")
    # typed into the explain box and carried in a shared URL
    open_view(page, text=XSS_TEXT + ' <svg onload=alert(2)> "><b>x</b>', methods="lrp")
    page.wait_for_selector("#heatmaps .heat-row")
    page.wait_for_timeout(300)
    assert page.locator("main img, main svg, main script, main b:text('x')").count() == 0
    assert page.dialogs == []
    page.screenshot(path=str(shots / "xss.png"), full_page=True)


def test_reports_menu_and_png_download(page, server):
    open_view(page, text="a great movie .", methods="lrp")
    page.wait_for_selector("#heatmaps .heat-row")
    page.click("#reports-menu summary")
    links = page.locator("#reports-list a")
    for href in links.evaluate_all("a => a.map(x => x.getAttribute('href'))"):
        assert href.startswith("/reports/")
        assert page.request.get(server + href).status == 200
    with page.expect_download() as download:
        page.click("[data-export=png-download]")
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"\x89PNG")
    with page.expect_download() as download:
        page.click("[data-export=html-download]")
    html = Path(download.value.path()).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'class="explanation"' in html
