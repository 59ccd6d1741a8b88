"""The command line: output, files written, and one-line errors with non-zero exits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import random_model

from textlrp.cli.main import main


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.pt"
    random_model(seed=31).save(path)
    return path


def test_explain_prints_prediction_and_heatmap(model_file, capsys):
    code = main(["explain", "the movie was not good", "--model", str(model_file), "--no-color"])
    out = capsys.readouterr().out
    assert code == 0
    assert "predicted" in out and "class" in out
    assert "movie(" in out and "good(" in out


def test_explain_writes_html_json_png(model_file, tmp_path, capsys):
    html, js, png = tmp_path / "o.html", tmp_path / "o.json", tmp_path / "o.png"
    code = main(
        [
            "explain",
            "the <script>alert(1)</script> movie",
            "--model",
            str(model_file),
            "--html",
            str(html),
            "--json",
            str(js),
            "--png",
            str(png),
            "--target",
            "class1",
            "--dtype",
            "float64",
            "--bias-factor",
            "1",
        ]
    )
    assert code == 0
    page = html.read_text()
    assert "<script" not in page and "&lt;" in page  # tokens are escaped, never markup
    [record] = json.loads(js.read_text())
    assert record["target_name"] == "class1"
    total = sum(record["relevance"]) + record["initial_state_relevance"]
    assert total == pytest.approx(record["scores"][1], rel=1e-9)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_method_all_shows_every_method(model_file, capsys):
    assert (
        main(
            [
                "explain",
                "great fun",
                "--model",
                str(model_file),
                "--method",
                "all",
                "--no-color",
                "--eps",
                "0.01",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    for name in ("lrp", "lrp_cons", "gradient", "gradient_x_input"):
        assert f"\n{name} " in "\n" + out or out.startswith(name)


@pytest.mark.parametrize(
    "args,message",
    [
        (["explain", ""], "empty"),
        (["explain"], "no text given"),
        (["explain", "zzzz qqqq"], "vocabulary"),
        (["explain", "the movie", "--method", "magic"], "unknown method"),
        (["explain", "the movie", "--target", "9"], "out of range"),
        (["explain", "the movie", "--target", "happy"], "unknown class name"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(model_file, capsys, args, message):
    code = main([*args, "--model", str(model_file)])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_text("nonsense")
    assert main(["explain", "the movie", "--model", str(bad)]) != 0
    assert "could not read model file" in capsys.readouterr().err


def test_console_script_runs_as_a_process(model_file):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "textlrp.cli.main",
            "explain",
            "the movie",
            "--model",
            str(model_file),
            "--target",
            "nope",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("textlrp: error: unknown class name")


def test_method_all_skips_a_method_that_does_not_apply(tmp_path, capsys):
    path = tmp_path / "gru.pt"
    random_model(seed=32, cell="gru").save(path)
    assert main(["explain", "great fun", "--model", str(path), "--method", "all"]) == 0
    captured = capsys.readouterr()
    assert "skipped cd" in captured.err and "single-layer LSTMs" in captured.err
    assert "occlusion_f" in captured.out and "lrp" in captured.out


def test_demo_runs_on_the_bundled_model(tmp_path, capsys):
    """`make demo` runs this: no data, no flags besides where to write."""
    assert main(["demo", "--out", str(tmp_path), "--no-color"]) == 0
    out = capsys.readouterr().out
    assert "it(" in out and "never(" in out and "engage(" in out
    assert "lrp " in out and "gradient " in out
    assert (tmp_path / "demo.html").stat().st_size > 1000
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_reproduce_toy_writes_its_table(tmp_path, capsys):
    out = tmp_path / "toy"
    code = main(
        [
            "reproduce",
            "toy",
            "--models",
            "1",
            "--steps",
            "2",
            "--accept-mse",
            "1e9",
            "--task",
            "add",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    table = (out / "toy.md").read_text()
    assert "LRP-all" in table and "99.995" in table  # our row beside the paper's
    assert json.loads((out / "toy.json").read_text())


@pytest.mark.parametrize("command", [["explain", "a text"], ["explain-corpus", "in.txt"]])
def test_explain_commands_take_the_same_lrp_options(command):
    from textlrp.cli.common import lrp_options
    from textlrp.cli.main import build_parser

    flags = ["--eps", "0.01", "--bias-factor", "1", "--product-rule", "half"]
    flags += ["--conv-rule", "zplus", "--head-rule", "epsilon", "--composite", "epsilon_plus"]
    out = ["--out", "o.parquet"] if command[0] == "explain-corpus" else []
    args = build_parser().parse_args([*command, *flags, *out])
    assert lrp_options(args) == {
        "eps": 0.01,
        "bias_factor": 1.0,
        "product_rule": "half",
        "conv_rule": "zplus",
        "head_rule": "epsilon",
        "composite": "epsilon_plus",
    }
