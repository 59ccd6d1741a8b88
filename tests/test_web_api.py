"""The viewer's JSON API (textlrp serve), through Starlette's TestClient and a real server."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")

import httpx  # noqa: E402
from conftest import random_model  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from web_corpus import CLASS_NAMES, XSS_TEXT, corpus_rows, write_corpus  # noqa: E402
from web_server import running_server  # noqa: E402

import textlrp  # noqa: E402
from textlrp.errors import InputError  # noqa: E402
from textlrp.web import create_app  # noqa: E402
from textlrp.web.service import Limits  # noqa: E402

SENTENCE = "it never fails to engage us ."
DOCS = 60


@pytest.fixture(scope="module")
def bundled():
    return textlrp.load_model()


@pytest.fixture(scope="module")
def rows():
    return corpus_rows(DOCS, seed=3)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, rows):
    return write_corpus(tmp_path_factory.mktemp("corpus") / "out.parquet", rows, 16)


@pytest.fixture(scope="module")
def client(bundled, corpus_file):
    tiny = random_model(num_classes=3, seed=1)
    app = create_app({"sst": bundled, "tiny": tiny}, corpora=[corpus_file])
    with TestClient(app) as test_client:
        yield test_client


def explain(client, **body):
    body.setdefault("text", SENTENCE)
    return client.post("/api/explain", json=body)


# ---------------------------------------------------------------- explain


def test_info_lists_models_methods_corpora_and_reports(client):
    info = client.get("/api/info").json()
    assert [m["name"] for m in info["models"]] == ["sst", "tiny"]
    assert info["default_model"] == "sst"
    assert {m["name"] for m in info["methods"]} == set(textlrp.available_methods())
    assert info["corpora"][0]["rows"] == 2 * DOCS
    assert info["corpora"][0]["class_names"] == CLASS_NAMES
    assert info["colors"] == {
        "negative": "#0000ff",
        "zero": "#ffffff",
        "positive": "#ff0000",
        "text_on_positive": "#000000",
    }


def test_explain_matches_the_library_for_each_method(client, bundled):
    response = explain(client, methods=["lrp", "gradient_x_input"], options={"eps": 0.01})
    assert response.status_code == 200
    result = response.json()
    assert result["tokens"] == SENTENCE.split()
    assert np.isclose(sum(result["probabilities"]), 1.0, atol=1e-5)
    [lrp] = textlrp.explain(bundled, SENTENCE, method="lrp", eps=0.01)
    [gxi] = textlrp.explain(bundled, SENTENCE, method="gradient_x_input")
    rows = result["rows"]
    assert [r["method"] for r in rows] == ["lrp", "gradient_x_input"]
    assert rows[0]["options"] == {"eps": 0.01} and rows[1]["options"] == {}
    np.testing.assert_allclose(rows[0]["relevance"], lrp.relevance.tolist(), rtol=1e-6)
    np.testing.assert_allclose(rows[1]["relevance"], gxi.relevance.tolist(), rtol=1e-6)
    assert result["predicted"] == lrp.predicted
    for row in rows:
        assert len(row["colors"]) == len(result["tokens"])
        assert row["scale"] == pytest.approx(max(abs(v) for v in row["relevance"]))
        # the strongest token takes the full colour of its sign (viz colour map)
        strongest = int(np.argmax(np.abs(row["relevance"])))
        assert row["colors"][strongest] in ("#ff0000", "#0000ff")


def test_click_a_class_explains_that_class(client, bundled):
    by_name = explain(client, target="very positive").json()
    assert by_name["target"] == 4 and by_name["target_name"] == "very positive"
    [direct] = textlrp.explain(bundled, SENTENCE, target=4)
    np.testing.assert_allclose(
        by_name["rows"][0]["relevance"], direct.relevance.tolist(), rtol=1e-6
    )
    assert (
        explain(client, target=4).json()["rows"][0]["relevance"] == by_name["rows"][0]["relevance"]
    )


def test_unknown_words_are_marked(client):
    result = explain(client, text="a zzqxv movie").json()
    assert result["unknown"] == [False, True, False]


def test_second_model_by_name(client):
    result = explain(client, model="tiny", text="the movie was good", dtype="float64").json()
    assert result["model"] == "tiny"
    assert result["class_names"] == ["class0", "class1", "class2"]
    response = explain(client, model="nope")
    assert response.status_code == 422
    assert "unknown model 'nope'; choose one of: sst, tiny" in response.json()["error"]


def cli_message(bundled, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        textlrp.explain(bundled, SENTENCE, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize(
    "body, library_call",
    [
        ({"options": {"eps": -1}}, {"method": "lrp", "eps": -1.0}),
        ({"options": {"product_rule": "max"}}, {"method": "lrp", "product_rule": "max"}),
        ({"options": {"bias_factor": 2}}, {"method": "lrp", "bias_factor": 2.0}),
        ({"methods": ["lrpx"]}, {"method": "lrpx"}),
        ({"target": "happy"}, {"target": "happy"}),
        ({"target": 9}, {"target": 9}),
        (
            {"methods": ["integrated_gradients"], "options": {"integration": "simpson"}},
            {"method": "integrated_gradients", "integration": "simpson"},
        ),
    ],
)
def test_bad_options_get_the_cli_message_as_422(client, bundled, body, library_call):
    response = explain(client, **body)
    assert response.status_code == 422
    assert response.json()["error"] == cli_message(bundled, **library_call)


def test_wrongly_typed_or_unknown_fields_are_422_with_a_message(client):
    for body in (
        {"options": {"eps": "abc"}},
        {"options": {"alpha": 1}},
        {"methods": "lrp", "colour": "red"},
        {"dtype": "float16"},
    ):
        response = explain(client, **body)
        assert response.status_code == 422, body
        assert response.json()["error"].startswith("invalid request: ")
    response = client.post(
        "/api/explain", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_limits_give_413_and_422(client):
    limit = client.get("/api/info").json()["limits"]
    long_text = "good " * (limit["max_chars"] // 5 + 1)
    response = explain(client, text=long_text)
    assert response.status_code == 413
    assert f"at most {limit['max_chars']}" in response.json()["error"]
    response = client.post(
        "/api/explain",
        content=b'{"text": "' + b"a" * (limit["max_body_bytes"] + 10) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "request body too large" in response.json()["error"]
    response = explain(client, methods=["integrated_gradients"], options={"steps": 10_000})
    assert response.status_code == 422 and "steps must be at most" in response.json()["error"]
    assert explain(client, text="   ").status_code == 422
    assert explain(client, methods=[]).status_code == 422


def test_token_limit(bundled):
    app = create_app({"sst": bundled}, results_dir=None, limits=Limits(max_tokens=5))
    with TestClient(app) as small:
        response = explain(small)
        assert response.status_code == 413
        assert "7 tokens" in response.json()["error"]


def test_export_png_and_escaped_html(client):
    response = client.post("/api/export/png", json={"text": "a great movie", "methods": ["lrp"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    response = client.post(
        "/api/export/html", json={"text": XSS_TEXT, "methods": ["lrp", "gradient"]}
    )
    assert response.status_code == 200
    page = response.text
    assert "<script>" not in page and "<img" not in page
    assert "&lt;" in page and "onerror" in page  # shown as text
    assert page.count('class="explanation"') == 2
    assert client.post("/api/export/pdf", json={"text": "good"}).status_code == 422


# ---------------------------------------------------------------- page and files


def test_page_and_static_files_with_security_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "textlrp viewer" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    for path in ("/static/index.html.bak", "/static/..%2fapp.py", "/static/%2e%2e/app.py"):
        assert client.get(path).status_code == 404


def test_reports_are_served_from_the_allow_list_only(tmp_path, bundled):
    results = tmp_path / "results"
    (results / "sst").mkdir(parents=True)
    (results / "sst" / "report.html").write_text("<h1>sst report</h1>")
    (results / "sst" / "figure.png").write_bytes(b"\x89PNG fake")
    (results / "toy.md").write_text("# toy")
    (tmp_path / "secret.txt").write_text("secret")
    app = create_app({"sst": bundled}, results_dir=results)
    with TestClient(app) as local:
        reports = local.get("/api/info").json()["reports"]
        assert [r["url"] for r in reports] == ["/reports/sst/report.html", "/reports/toy.md"]
        assert local.get("/reports/sst/report.html").text == "<h1>sst report</h1>"
        assert local.get("/reports/sst/figure.png").headers["content-type"] == "image/png"
        assert local.get("/reports/toy.md").headers["content-type"].startswith("text/plain")
        for path in (
            "/reports/../secret.txt",
            "/reports/sst/../../secret.txt",
            "/reports/..%2fsecret.txt",
            "/reports/sst%2f..%2f..%2fsecret.txt",
            "/reports//etc/passwd",
            "/reports/sst",
            "/reports/toy.json",
        ):
            response = local.get(path)
            assert response.status_code == 404, path
            assert "secret" != response.text


# ---------------------------------------------------------------- corpus


def documents(client, **params):
    response = client.get("/api/corpora/0/documents", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_cover_every_row_once(client, rows):
    seen = []
    for page in range(1, 5):
        result = documents(client, page=page, page_size=40)
        assert result["total"] == len(rows)
        seen += [r["row"] for r in result["rows"]]
    assert seen == list(range(len(rows)))


def test_filters_match_a_python_filter(client, rows):
    result = documents(client, predicted="positive", method="lrp", page_size=200)
    expected = [
        i for i, r in enumerate(rows) if r["predicted_name"] == "positive" and r["method"] == "lrp"
    ]
    assert [r["row"] for r in result["rows"]] == expected
    result = documents(client, misclassified="true", page_size=200)
    expected = [
        i for i, r in enumerate(rows) if r["label"] is not None and r["label"] != r["predicted"]
    ]
    assert [r["row"] for r in result["rows"]] == expected
    assert all(r["misclassified"] for r in result["rows"])
    result = documents(client, label="neutral", misclassified="false", page_size=200)
    expected = [i for i, r in enumerate(rows) if r["label"] == 1 and r["predicted"] == 1]
    assert [r["row"] for r in result["rows"]] == expected


def test_search_text_and_id(client, rows):
    result = documents(client, q="NEVER FAILS", page_size=200)
    assert [r["row"] for r in result["rows"]] == [
        i for i, r in enumerate(rows) if "never fails" in r["text"]
    ]
    assert documents(client, q="doc00007")["total"] == 2
    assert documents(client, q="no such words here")["total"] == 0


def test_sorting_by_score_probability_and_word(client, rows):
    result = documents(client, sort="score", order="desc", page_size=200)
    scores = [r["score"] for r in result["rows"]]
    assert scores == sorted(scores, reverse=True)
    result = documents(client, sort="probability", page_size=200)
    expected = sorted(max(r["probabilities"]) for r in rows)
    np.testing.assert_allclose([r["probability"] for r in result["rows"]], expected, rtol=1e-6)
    result = documents(client, sort="word", word="Great", order="desc", page_size=200)
    values = {}
    for i, r in enumerate(rows):
        hits = [v for t, v in zip(r["tokens"], r["relevance"], strict=True) if t == "great"]
        values[i] = sum(hits) if hits else None
    with_word = sorted((v for v in values.values() if v is not None), reverse=True)
    got = [r["word_relevance"] for r in result["rows"]]
    np.testing.assert_allclose(got[: len(with_word)], with_word, rtol=1e-5)
    assert all(v is None for v in got[len(with_word) :])  # rows without the word come last
    response = client.get("/api/corpora/0/documents", params={"sort": "word"})
    assert response.status_code == 422 and "needs the word" in response.json()["error"]


def test_document_brings_its_other_methods_with_colours(client, rows):
    result = client.get("/api/corpora/out/documents/5").json()
    assert result["id"] == rows[5]["id"]
    assert result["rows"] == [5, 4]
    methods = [record["method"] for record in result["records"]]
    assert methods == [rows[5]["method"], rows[4]["method"]]
    heatmap = result["records"][0]["heatmap"]
    assert heatmap["tokens"] == rows[5]["tokens"]
    assert len(heatmap["colors"]) == len(rows[5]["tokens"])
    xss = client.get("/api/corpora/0/documents/0").json()["records"][0]
    assert xss["text"] == XSS_TEXT  # data goes out as JSON; the page sets it as text
    assert client.get("/api/corpora/0/documents/100000").status_code == 422
    assert client.get("/api/corpora/7/documents/0").status_code == 404
    assert client.get("/api/corpora/..%2f..%2fetc/documents").status_code == 404


def test_aggregate_top_words_per_class(client, rows):
    result = client.get("/api/corpora/0/aggregate", params={"method": "lrp", "min_count": 2})
    assert result.status_code == 200
    classes = {c["name"]: c for c in result.json()["classes"]}
    sums: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["method"] != "lrp":
            continue
        for token, value in zip(r["tokens"], r["relevance"], strict=True):
            sums.setdefault((r["target_name"], token), []).append(value)
    for name, record in classes.items():
        for item in record["top"] + record["bottom"]:
            values = sums[(name, item["token"])]
            assert item["count"] == len(values) >= 2
            assert item["mean"] == pytest.approx(np.mean(values), rel=1e-5)
        means = [item["mean"] for item in record["top"]]
        assert means == sorted(means, reverse=True)
        lows = [item["mean"] for item in record["bottom"]]
        assert lows == sorted(lows)
        assert not {i["token"] for i in record["top"]} & {i["token"] for i in record["bottom"]}
        best = max(
            (np.mean(v) for (c, _), v in sums.items() if c == name and len(v) >= 2), default=None
        )
        assert means[0] == pytest.approx(best, rel=1e-5)


def test_corpus_with_missing_columns_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from textlrp.errors import DataError
    from textlrp.web.corpus import Corpus

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["b"]}), path)
    with pytest.raises(DataError, match="lacks the corpus column"):
        Corpus(path)
    with pytest.raises(DataError, match="not found"):
        Corpus(tmp_path / "missing.parquet")


# ---------------------------------------------------------------- concurrency


def gated(model, gate: threading.Event, entered: threading.Event):
    original = model.forward_embedded

    def forward_embedded(embedded, lengths):
        entered.set()
        if not gate.wait(timeout=60):
            raise RuntimeError("gate never opened")
        return original(embedded, lengths)

    model.forward_embedded = forward_embedded
    return model


def test_a_slow_request_does_not_block_a_fast_one(bundled):
    gate, entered = threading.Event(), threading.Event()
    slow = gated(random_model(seed=2), gate, entered)
    app = create_app({"sst": bundled, "slow": slow}, results_dir=None, workers=2)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        slow_result = {}

        def call_slow():
            slow_result["response"] = http.post(
                "/api/explain",
                # gradient runs the model's forward_embedded (LRP scores from its own trace)
                json={
                    "text": "the movie",
                    "model": "slow",
                    "dtype": "float64",
                    "methods": ["gradient"],
                },
            )

        thread = threading.Thread(target=call_slow)
        thread.start()
        assert entered.wait(timeout=30), "the slow request never reached the model"
        fast = http.post("/api/explain", json={"text": SENTENCE, "model": "sst"})
        assert fast.status_code == 200
        assert "response" not in slow_result  # the slow one is still held at its gate
        gate.set()
        thread.join(timeout=60)
        assert slow_result["response"].status_code == 200


def test_200_concurrent_requests_complete(bundled):
    app = create_app({"sst": bundled}, results_dir=None)
    texts = [f"{word} movie , not boring ." for word in ("a great", "a bad", "the", "an odd")]
    methods = ["lrp", "gradient_x_input"]

    def request(i: int) -> tuple[str, str]:
        return texts[i % 4], methods[(i // 4) % 2]

    async def fire(url: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
            calls = [
                http.post("/api/explain", json={"text": text, "methods": [method]})
                for text, method in map(request, range(200))
            ]
            return await asyncio.gather(*calls)

    with running_server(app) as url:
        start = time.monotonic()
        responses = asyncio.run(fire(url))
        elapsed = time.monotonic() - start
    assert [r.status_code for r in responses] == [200] * 200
    assert elapsed < 120
    expected = {
        (text, method): textlrp.explain(bundled, text, method=method)[0].relevance.tolist()
        for text in texts
        for method in methods
    }
    for i, response in enumerate(responses):  # concurrent answers equal sequential ones
        got = response.json()["rows"][0]["relevance"]
        np.testing.assert_allclose(got, expected[request(i)], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- CLI and packaging


def test_serve_cli_refuses_bad_arguments_without_starting(tmp_path, capsys):
    from textlrp.cli.main import main

    assert main(["serve", "--corpus", str(tmp_path / "missing.parquet"), "--port", "1"]) == 2
    assert "corpus file not found" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be in 1..65535" in capsys.readouterr().err
    assert main(["serve", "--model", "a=x.pt", "--model", "a=y.pt"]) == 2
    assert "used twice" in capsys.readouterr().err


def test_model_names_from_the_command_line():
    from textlrp.cli.serve import parse_models

    assert parse_models(None) == {"bundled": None}
    assert parse_models(["a=one.pt", "models/two.pt"]) == {
        "a": Path("one.pt"),
        "two": Path("models/two.pt"),
    }


def test_missing_fastapi_names_the_extra(monkeypatch):
    import sys

    from textlrp.errors import TextLRPError
    from textlrp.web import require_web

    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(TextLRPError, match=r"textlrp\[web\]"):
        require_web()


def test_static_files_are_package_data():
    from importlib import resources

    folder = resources.files("textlrp.web") / "static"
    for name in ("index.html", "app.js", "style.css"):
        assert (folder / name).is_file()
    text = (folder / "index.html").read_text()
    assert "http://" not in text and "https://" not in text  # no CDN, works offline
