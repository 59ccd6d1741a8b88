"""explain-corpus: rows equal explain()'s, every input format, bad rows, resuming, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import random_model, random_sentences

import textlrp
from textlrp.cli.main import main
from textlrp.errors import InputError

pa = pytest.importorskip("pyarrow", reason="needs the corpus extra: pip install 'textlrp[corpus]'")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pandas", reason="needs the corpus extra: pip install 'textlrp[corpus]'")

from textlrp.corpus import corpus_metadata, explain_corpus, read_corpus  # noqa: E402
from textlrp.corpus.schema import corpus_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def model():
    return random_model(seed=7, num_classes=3)


@pytest.fixture
def model_file(tmp_path, model):
    path = tmp_path / "model.pt"
    model.save(path)
    return path


def documents(count: int = 40, seed: int = 3) -> tuple[list[str], list[str], list[int]]:
    texts = [" ".join(s) for s in random_sentences(count, seed)]
    ids = [f"doc-{i:03d}" for i in range(count)]
    labels = [i % 3 for i in range(count)]
    return ids, texts, labels


def write_csv(path: Path, ids, texts, labels, delimiter: str = ",") -> Path:
    lines = [delimiter.join(["id", "text", "label"])]
    lines += [
        delimiter.join([i, f'"{t}"', str(y)]) for i, t, y in zip(ids, texts, labels, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rows_equal_explain_for_each_method_and_target(tmp_path, model):
    ids, texts, labels = documents()
    source = write_csv(tmp_path / "in.csv", ids, texts, labels)
    out = tmp_path / "out.parquet"
    summary = explain_corpus(
        source,
        out,
        model,
        method="lrp,gradient",
        target="predicted,label",
        id_column="id",
        label_column="label",
        dtype="float64",
        batch_size=7,
        chunk_size=16,
        progress=False,
    )
    assert summary.documents == len(texts) and summary.rows == 4 * len(texts)
    table = read_corpus(out)
    assert table.schema.remove_metadata() == corpus_schema(pa.float64())
    meta = corpus_metadata(out)
    assert meta["class_names"] == list(model.class_names)
    assert meta["model_hash"] == table["model_hash"][0].as_py()
    rows = table.to_pylist()
    expected = []
    for method in ("lrp", "gradient"):
        for target in ("predicted", labels):
            expected.append(textlrp.explain(model, texts, method, target, dtype="float64"))
    for d, doc_id in enumerate(ids):
        for k in range(4):
            row, e = rows[4 * d + k], expected[k][d]
            assert row["id"] == doc_id and row["text"] == texts[d]
            assert row["method"] == ("lrp", "gradient")[k // 2]
            assert row["tokens"] == e.tokens
            np.testing.assert_allclose(row["relevance"], e.relevance.numpy(), rtol=1e-9, atol=1e-12)
            assert row["target"] == e.target and row["predicted"] == e.predicted
            assert row["score"] == pytest.approx(e.target_score, rel=1e-12)
            np.testing.assert_allclose(row["probabilities"], e.probabilities.numpy(), rtol=1e-6)
            assert row["label"] == labels[d] and row["label_name"] == f"class{labels[d]}"
            assert row["conservation_residual"] is None


def test_all_targets_and_conservation_residual(tmp_path, model):
    ids, texts, labels = documents(12)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    explain_corpus(
        source, out, model, method="lrp_cons", target="all", dtype="float64", progress=False
    )
    table = read_corpus(out).to_pandas()
    assert len(table) == 3 * len(texts)
    assert table["id"].tolist() == [str(i + 1) for i in range(len(texts)) for _ in range(3)]
    assert table["target"].tolist() == [0, 1, 2] * len(texts)
    assert table["label"].isna().all()
    assert np.abs(table["conservation_residual"]).max() < 1e-9
    residual = table["score"] - table["relevance"].map(sum)  # initial state and bias shares
    assert np.abs(residual).max() > 1e-6  # ... are not zero, so the column subtracts them


def test_formats_give_the_same_rows_and_list_bad_rows(tmp_path, model):
    ids, texts, labels = documents(10)
    good = explain_corpus(
        write_csv(tmp_path / "a.csv", ids, texts, labels),
        tmp_path / "a.parquet",
        model,
        id_column="id",
        label_column="label",
        progress=False,
    )
    reference = read_corpus(tmp_path / "a.parquet").drop(["model_hash"])
    assert good.bad == {}
    # The same documents plus bad rows, in every other format.
    bad_ids = ["e1", "u1", "x1", "l1", "n1"]
    bad_texts = ["   ", "zzz qqq", " ".join(["fun"] * 10), "good fun", "bad"]
    bad_labels = ["0", "1", "2", "class7", "1"]
    all_ids, all_texts, all_labels = (
        ids + bad_ids,
        texts + bad_texts,
        [*map(str, labels), *bad_labels],
    )
    records = [
        {"id": i, "text": t, "label": y}
        for i, t, y in zip(all_ids, all_texts, all_labels, strict=True)
    ]
    jsonl = b"".join(json.dumps(r).encode() + b"\n" for r in records[:-1])
    jsonl = jsonl + b'{"id": "n1", "text": "bad \xff fun", "label": "1"}\n{not json\n'
    (tmp_path / "b.jsonl").write_bytes(jsonl)
    tsv = "id\ttext\tlabel\n" + "".join(
        f"{r['id']}\t{r['text']}\t{r['label']}\n" for r in records[:-1]
    )
    (tmp_path / "b.tsv").write_bytes(tsv.encode() + b"n1\tbad \xff fun\t1\n")
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "b.parquet")
    expected_bad = {"empty": 1, "no-known-word": 1, "too-long": 1, "bad-label": 1}
    for name, extra in (
        ("b.jsonl", {"not-utf8": 1, "bad-json": 1}),
        ("b.tsv", {"not-utf8": 1}),
        ("b.parquet", {}),
    ):
        out = tmp_path / (name + ".out.parquet")
        summary = explain_corpus(
            tmp_path / name,
            out,
            model,
            id_column="id",
            label_column="label",
            max_tokens=9,
            progress=False,
        )
        assert summary.bad == expected_bad | extra, name
        table = read_corpus(out).drop(["model_hash"])
        good_rows = table.filter(pa.compute.is_in(table["id"], pa.array(ids)))
        assert good_rows.equals(reference), name
        listed = [json.loads(line) for line in (tmp_path / (name + ".out.bad.jsonl")).open()]
        assert len(listed) == sum(summary.bad.values())
        assert {b["id"] for b in listed if b["reason"] == "too-long"} == {"x1"}
        assert all(b["row"] >= 11 for b in listed)
    # A plain text file: one document a line, non-UTF-8 bytes are one bad row.
    (tmp_path / "c.txt").write_bytes(b"the movie was good\n\xfe\xfe bad\n\nnever fails\n")
    summary = explain_corpus(tmp_path / "c.txt", tmp_path / "c.parquet", model, progress=False)
    assert summary.documents == 2 and summary.bad == {"not-utf8": 1, "empty": 1}
    assert read_corpus(tmp_path / "c.parquet")["id"].to_pylist() == ["1", "4"]


def test_label_target_skips_unlabelled_rows(tmp_path, model):
    records = [{"text": "the movie was good", "y": "class1"}, {"text": "not fun", "y": None}]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    summary = explain_corpus(
        tmp_path / "in.parquet",
        out,
        model,
        target="label,predicted",
        label_column="y",
        progress=False,
    )
    table = read_corpus(out).to_pandas()
    assert table["id"].tolist() == ["1", "1", "2"]
    assert table["target_name"].iloc[0] == "class1" and summary.bad == {"no-label": 1}
    with pytest.raises(InputError, match="--label-column"):
        explain_corpus(tmp_path / "in.parquet", tmp_path / "x.parquet", model, target="label")


def test_named_sst_dataset(tmp_path):
    model = random_model(seed=2, num_classes=5)
    trees = ["(3 (2 the) (3 (2 movie) (3 good)))", "(1 (2 never) (1 boring))"]
    folder = tmp_path / "sst"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        (folder / f"{split}.txt").write_text("\n".join(trees) + "\n", encoding="utf-8")
    out = tmp_path / "sst.parquet"
    explain_corpus("sst-test", out, model, target="label", data_dir=folder, progress=False)
    table = read_corpus(out)
    assert table["text"].to_pylist() == ["the movie good", "never boring"]
    assert table["label"].to_pylist() == [3, 1] == table["target"].to_pylist()


def test_refuses_other_settings_and_overwrites(tmp_path, model_file):
    ids, texts, labels = documents(6)
    source = write_csv(tmp_path / "in.csv", ids, texts, labels)
    out = tmp_path / "out.parquet"
    explain_corpus(source, out, model_file, progress=False)
    again = explain_corpus(source, out, model_file, progress=False)  # finished: nothing to do
    assert again.documents == 0
    with pytest.raises(InputError, match="different settings.*--overwrite"):
        explain_corpus(source, out, model_file, method="gradient", progress=False)
    explain_corpus(source, out, model_file, method="gradient", overwrite=True, progress=False)
    assert set(read_corpus(out)["method"].to_pylist()) == {"gradient"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "textlrp.cli.main", "explain-corpus", *args]


def test_resume_after_sigkill_loses_and_duplicates_nothing(tmp_path, model_file, capsys):
    """The first run reads a pipe that stalls after 25 lines and is killed there; the rerun,
    reading the whole file under the same name, must add exactly the missing documents."""
    ids, texts, labels = documents(45, seed=5)
    source = tmp_path / "in.txt"
    os.mkfifo(source)
    out = tmp_path / "out.parquet"
    args = [
        "explain-corpus",
        str(source),
        "--out",
        str(out),
        "--model",
        str(model_file),
        "--chunk-size",
        "10",
        "--quiet",
    ]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "textlrp.cli.main", *args], env=env)
    parts = Path(str(out) + ".parts")
    # Read-write, so opening never blocks even if the run died before opening its end.
    with os.fdopen(os.open(source, os.O_RDWR), "w", encoding="utf-8") as pipe:
        pipe.write("".join(t + "\n" for t in texts[:25]))
        pipe.flush()
        deadline = time.monotonic() + 60
        while len(list(parts.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)  # while it waits for the rest of chunk 2
        process.wait()
    assert not out.exists() and len(list(parts.glob("part-*.parquet"))) == 2
    source.unlink()
    source.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    assert main([*args, "--method", "gradient"]) == 2  # other settings: refused
    assert "different settings" in capsys.readouterr().err
    assert main(args[:-1]) == 0  # the same command resumes
    assert "2 chunk(s) were already done" in capsys.readouterr().err
    assert not parts.exists()
    table = read_corpus(out)
    assert table["id"].to_pylist() == [str(i + 1) for i in range(45)]  # each once, in order
    assert table["tokens"].to_pylist() == [t.split() for t in texts]
    fresh = tmp_path / "fresh.parquet"
    explain_corpus(source, fresh, model_file, chunk_size=10, progress=False)
    assert read_corpus(fresh).equals(table)


def test_cli_writes_corpus_and_aggregate_report(tmp_path, model_file, capsys):
    ids, texts, labels = documents(30)
    texts[0] = "the <b>movie</b> & good"
    source = write_csv(tmp_path / "in.csv", ids, texts, labels)
    out = tmp_path / "out.parquet"
    code = main(
        [
            "explain-corpus",
            str(source),
            "--out",
            str(out),
            "--model",
            str(model_file),
            "--label-column",
            "label",
            "--method",
            "lrp,gradient",
            "--quiet",
        ]
    )
    assert code == 0
    code = main(
        [
            "aggregate",
            str(out),
            "--out",
            str(tmp_path / "report"),
            "--min-count",
            "1",
            "--top",
            "100",
        ]
    )
    assert code == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<b>" not in page and ">&lt;</span>" in page  # the token "<" is escaped
    assert (tmp_path / "report" / "position.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Words pushing towards misclassification" in capsys.readouterr().out
    code = main(
        [
            "explain-corpus",
            str(source),
            "--out",
            str(tmp_path / "x.parquet"),
            "--method",
            "nope",
            "--model",
            str(model_file),
        ]
    )
    assert code == 2 and "unknown method 'nope'" in capsys.readouterr().err


def test_ray_engine_gives_the_local_rows(tmp_path, model_file):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'textlrp[ray]')")
    pytest.importorskip("ray.data")
    ids, texts, labels = documents(50)
    texts[3] = "zzz"  # a bad row goes through Ray too
    source = write_csv(tmp_path / "in.csv", ids, texts, labels)
    common = dict(
        model=model_file,
        method="lrp,gradient",
        target="predicted,label",
        id_column="id",
        label_column="label",
        chunk_size=16,
        progress=False,
    )
    explain_corpus(source, tmp_path / "local.parquet", **common)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = explain_corpus(source, tmp_path / "ray.parquet", engine="ray", actors=2, **common)
    finally:
        ray.shutdown()
    assert summary.bad == {"no-known-word": 1}
    assert read_corpus(tmp_path / "ray.parquet").equals(read_corpus(tmp_path / "local.parquet"))
    assert (tmp_path / "ray.bad.jsonl").read_text() == (tmp_path / "local.bad.jsonl").read_text()


def test_aggregates_match_a_pandas_computation(tmp_path, model):
    from textlrp.corpus import aggregate

    ids, texts, labels = documents(60, seed=11)
    source = write_csv(tmp_path / "in.csv", ids, texts, labels)
    out = tmp_path / "out.parquet"
    explain_corpus(
        source,
        out,
        model,
        method="lrp,gradient",
        target="predicted",
        label_column="label",
        chunk_size=25,
        progress=False,
    )
    frame = read_corpus(out).to_pandas()
    tokens = frame.explode(["tokens", "relevance"]).astype({"relevance": float})
    expected = tokens.groupby(["method", "target_name", "tokens"])["relevance"].agg(
        ["count", "sum", "mean"]
    )
    words = aggregate.top_words(out, min_count=3, top=5)
    assert len(words) > 0
    for row in words.itertuples():
        count, total, mean = expected.loc[(row.method, row.target_name, row.word)]
        assert row.count == count >= 3
        assert row.total == pytest.approx(total) and row.mean == pytest.approx(mean)
    for (method, cls), group in words.groupby(["method", "target_name"]):
        ranked = expected.loc[(method, cls)].query("count >= 3")["mean"]
        assert group["mean"].tolist() == pytest.approx(ranked.nlargest(5).tolist())
    wrong = aggregate.misclassification_words(out, method="lrp", min_count=1, top=100)
    mistaken = frame[(frame.method == "lrp") & (frame.predicted != frame.label)]
    mistaken_tokens = mistaken.explode(["tokens", "relevance"]).astype({"relevance": float})
    assert wrong["count"].sum() == len(mistaken_tokens)
    assert wrong["total"].sum() == pytest.approx(mistaken_tokens["relevance"].sum())
    position = aggregate.relevance_by_position(out, method="gradient", bins=4)
    assert position["bin"].tolist() == [0, 1, 2, 3]
    assert position["count"].sum() == len(tokens[tokens.method == "gradient"])
    bins = {}
    for relevance in frame[frame.method == "gradient"]["relevance"]:
        for i, value in enumerate(relevance):
            bins.setdefault(int((i + 0.5) / len(relevance) * 4), []).append(value)
    assert position["mean"].tolist() == pytest.approx([np.mean(bins[b]) for b in range(4)])
    assert position["mean_abs"].tolist() == pytest.approx(
        [np.mean(np.abs(bins[b])) for b in range(4)]
    )


def test_tokenizer_choice(tmp_path, model):
    source = tmp_path / "in.txt"
    source.write_text("THE movie,fun\n", encoding="utf-8")
    for tokenizer, tokens in (
        ("sst", ["the", "movie", ",", "fun"]),
        ("whitespace", ["THE", "movie,fun"]),
    ):
        out = tmp_path / f"{tokenizer}.parquet"
        explain_corpus(source, out, model, tokenizer=tokenizer, progress=False)
        assert read_corpus(out)["tokens"].to_pylist() == [tokens]
    with pytest.raises(InputError, match="unknown tokenizer"):
        explain_corpus(source, tmp_path / "x.parquet", model, tokenizer="nope", progress=False)
