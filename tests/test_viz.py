"""Tests of the shared colour map and the terminal, HTML and PNG renderers."""

from __future__ import annotations

import html.parser
import math
import re
import struct
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from textlrp.explanation import Explanation
from textlrp.viz import (
    relevance_colors,
    render_html,
    render_png,
    render_terminal,
    render_terminal_rows,
    write_html,
)
from textlrp.viz.colors import contrast_text_color, intensity_to_rgb

CLASSES = ["very negative", "negative", "neutral", "positive", "very positive"]
TOKENS = ["the", "film", "is", "never", "boring"]
RELEVANCE = [0.05, 0.0, -0.02, -0.4, 0.8]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def make(
    tokens: list[str] = TOKENS,
    relevance: list[float] | torch.Tensor = RELEVANCE,
    *,
    method: str = "lrp",
    options: dict[str, Any] | None = None,
    class_names: list[str] = CLASSES,
    target: int = 3,
    predicted: int = 4,
    unknown: list[bool] | None = None,
) -> Explanation:
    scores = torch.linspace(-1.0, 1.0, len(class_names))
    return Explanation(
        tokens=list(tokens),
        relevance=torch.as_tensor(relevance, dtype=torch.float32),
        relevance_per_dim=None,
        relevance_by_direction=None,
        initial_state_relevance=0.0,
        bias_relevance=0.0,
        scores=scores,
        probabilities=torch.softmax(scores, 0),
        target=target,
        predicted=predicted,
        class_names=list(class_names),
        method=method,
        options=dict(options or {}),
        unknown=list(unknown) if unknown is not None else [False] * len(tokens),
    )


# --- colour map ---------------------------------------------------------------------------


def test_sign_maps_to_red_and_blue() -> None:
    colors = relevance_colors([0.5, -0.5])
    r, g, b = colors.rgb[0]
    assert r == 1.0 and b < r and g < r  # positive: red
    r, g, b = colors.rgb[1]
    assert b == 1.0 and r < b and g < b  # negative: blue


def test_largest_absolute_relevance_gets_full_intensity() -> None:
    colors = relevance_colors(torch.tensor([0.5, -2.0, 1.0]))
    assert colors.scale == pytest.approx(2.0)
    assert colors.intensity.tolist() == pytest.approx([0.25, -1.0, 0.5])
    assert colors.rgb[1] == pytest.approx((0.0, 0.0, 1.0))  # full blue
    assert relevance_colors([3.0, -1.0]).rgb[0] == pytest.approx((1.0, 0.0, 0.0))  # full red


def test_zero_relevance_is_white() -> None:
    colors = relevance_colors([0.0, 1.0])
    assert colors.rgb[0] == (1.0, 1.0, 1.0)
    assert colors.hex(0) == "#ffffff"


def test_all_zero_sentence_is_white_without_division_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            colors = relevance_colors(torch.zeros(4))
    assert colors.scale == 0.0
    assert colors.rgb == [(1.0, 1.0, 1.0)] * 4
    assert colors.intensity.tolist() == [0.0] * 4


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_relevance_raises_value_error(bad: float) -> None:
    with pytest.raises(ValueError, match="NaN or infinite"):
        relevance_colors(torch.tensor([0.1, bad, 0.3]))


def test_relevance_must_be_one_dimensional() -> None:
    with pytest.raises(ValueError, match="1-D"):
        relevance_colors(torch.zeros(2, 3))


def test_relevance_requiring_grad_is_accepted() -> None:
    relevance = torch.tensor([1.0, -1.0], requires_grad=True)
    assert relevance_colors(relevance * 2).intensity.tolist() == [1.0, -1.0]


def test_text_colour_contrasts_with_background() -> None:
    assert contrast_text_color((0.0, 0.0, 1.0)) == (1.0, 1.0, 1.0)  # white on full blue
    assert contrast_text_color((1.0, 1.0, 1.0)) == (0.0, 0.0, 0.0)  # black on white


@given(
    st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False),
        min_size=1,
        max_size=30,
    )
)
def test_intensity_keeps_sign_and_is_normalized(values: list[float]) -> None:
    colors = relevance_colors(values)
    intensity = colors.intensity
    assert np.all(np.abs(intensity) <= 1.0)
    assert np.all(np.sign(intensity) == np.sign(values))
    if any(v != 0 for v in values):
        assert np.abs(intensity).max() == pytest.approx(1.0)
    for x, rgb in zip(intensity, colors.rgb, strict=True):
        assert rgb == intensity_to_rgb(float(x))
        assert all(0.0 <= c <= 1.0 for c in rgb)


def test_token_and_relevance_counts_must_match() -> None:
    with pytest.raises(ValueError, match="must match"):
        render_terminal(make(relevance=[0.1, 0.2]), color=False)


# --- HTML ---------------------------------------------------------------------------------


class _Spans(html.parser.HTMLParser):
    """Collects the text of token spans, and every start tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []
        self.styles: list[str] = []
        self.titles: list[str] = []
        self.tags: list[str] = []
        self._in_token = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "span" and "tok" in (attributes.get("class") or "").split():
            self._in_token = True
            self.tokens.append("")
            self.styles.append(attributes.get("style") or "")
            self.titles.append(attributes.get("title") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_token = False

    def handle_data(self, data: str) -> None:
        if self._in_token:
            self.tokens[-1] += data


def parse(page: str) -> _Spans:
    parser = _Spans()
    parser.feed(page)
    parser.close()
    return parser


def test_html_escapes_script_token() -> None:
    tokens = ["<script>alert(1)</script>", "fine"]
    page = render_html(make(tokens, [1.0, -1.0]))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = parse(page)
    assert "script" not in parsed.tags
    assert parsed.tokens == tokens  # shown as text, exactly


def test_html_escapes_class_names_title_and_options() -> None:
    names = ['bad & "worse"', "<b>good</b>"]
    page = render_html(
        make(class_names=names, target=0, predicted=1, options={"note": '"><img src=x>'}),
        title="<i>report</i>",
    )
    assert "bad &amp; &quot;worse&quot;" in page
    assert 'bad & "worse"' not in page
    assert "&lt;b&gt;good&lt;/b&gt;" in page
    assert "&lt;i&gt;report&lt;/i&gt;" in page
    assert "<img" not in page
    tags = set(parse(page).tags)
    assert not tags & {"img", "i", "script"}


def test_html_contains_every_token_with_colour_and_tooltip() -> None:
    page = render_html([make(), make(method="occlusion", relevance=[0.0] * 5)])
    parsed = parse(page)
    assert parsed.tokens == TOKENS * 2
    assert "background-color:#ff0000" in parsed.styles[4]  # largest positive: full red
    assert "background-color:#ffffff" in parsed.styles[1]  # zero: white
    blue = re.search(r"background-color:#([0-9a-f]{6})", parsed.styles[3])
    assert blue is not None
    r, b = int(blue.group(1)[:2], 16), int(blue.group(1)[4:], 16)
    assert b == 255 and r < 255
    assert "+0.8000" in parsed.titles[4] and "-0.4000" in parsed.titles[3]


def test_html_shows_prediction_table_and_legend() -> None:
    page = render_html(make())
    assert "<table" in page
    for name in CLASSES:
        assert f"<td>{name}</td>" in page
    assert re.search(r'<tr class="target"><td>positive</td><td class="num">0\.\d{3}</td>', page)
    assert re.search(r'<tr class="predicted"><td>very positive</td>', page)
    assert 'class="legend"' in page and "linear-gradient" in page


def test_html_is_one_self_contained_file(tmp_path: Path) -> None:
    explanations = [make(), make(method="gradient_x_input", target=1)]
    out = write_html(explanations, tmp_path / "report.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    page = out.read_text(encoding="utf-8")
    assert page == render_html(explanations)
    assert page.startswith("<!DOCTYPE html>")
    assert "http" not in page.lower()
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"\b(src|href)=", page)


def test_html_refuses_nan_relevance() -> None:
    with pytest.raises(ValueError, match="NaN"):
        render_html(make(relevance=[0.1, math.nan, 0.0, 0.0, 0.0]))


# --- terminal -----------------------------------------------------------------------------


def test_terminal_without_colour_shows_signed_values() -> None:
    text = render_terminal(make(), color=False, width=200)
    assert "\x1b" not in text
    for token, value in zip(TOKENS, RELEVANCE, strict=True):
        assert f"{token}({value:+.2f})" in text
    assert "never(-0.40)" in text and "boring(+0.80)" in text


def test_terminal_header_has_method_classes_and_probabilities() -> None:
    explanation = make(options={"eps": 0.001})
    text = render_terminal(explanation, color=False, width=200)
    header = text.splitlines()[0]
    assert "lrp" in header and "eps=0.001" in header
    assert "target: positive" in header and "predicted: very positive" in header
    probabilities = explanation.probabilities.tolist()
    for name, p in zip(CLASSES, probabilities, strict=True):
        assert f"{name} {p:.2f}" in text
    assert "positive" + f" {probabilities[3]:.2f} [target]" in text
    assert f"very positive {probabilities[4]:.2f} [predicted]" in text


def _background_of(text: str, token: str) -> tuple[int, int, int]:
    match = re.search(
        r"\x1b\[48;2;(\d+);(\d+);(\d+)m(?:\x1b\[[0-9;]*m)*" + re.escape(token) + r"\x1b\[0m",
        text,
    )
    assert match is not None, f"no coloured cell for {token!r}"
    r, g, b = (int(x) for x in match.groups())
    return r, g, b


def test_terminal_colour_uses_24_bit_backgrounds_in_the_right_direction() -> None:
    text = render_terminal(make(), color=True, width=200)
    assert "\x1b[48;2;" in text and "\x1b[38;2;" in text
    assert _background_of(text, "boring") == (255, 0, 0)  # largest positive
    r, g, b = _background_of(text, "never")
    assert b == 255 and r < 200 and g < 200  # negative: blue
    assert _background_of(text, "film") == (255, 255, 255)  # zero
    assert "(+0.80)" not in text


class _FakeTTY:
    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


def test_terminal_auto_colour_follows_tty_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stdout", _FakeTTY())
    assert "\x1b[48;2;" in render_terminal(make(), width=200)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in render_terminal(make(), width=200)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr(sys, "stdout", open(__file__))  # a file, not a terminal
    try:
        assert "\x1b" not in render_terminal(make(), width=200)
    finally:
        sys.stdout.close()


@pytest.mark.parametrize("color", [False, True])
def test_terminal_wraps_to_width(color: bool) -> None:
    tokens = [f"word{i}" for i in range(40)]
    relevance = [math.sin(i) for i in range(40)]
    text = render_terminal(make(tokens, relevance), color=color, width=40)
    body = [ANSI.sub("", line) for line in text.splitlines()[1:]]
    assert max(len(line) for line in body) <= 40
    shown = re.findall(r"word\d+", " ".join(body))
    assert shown == tokens  # every token, in order, none split across lines
    assert len(body) > 5


def test_terminal_escapes_control_characters_in_tokens() -> None:
    for color in (False, True):
        text = render_terminal(make(["a\x1b[2Jb", "c\nd"], [1.0, -1.0]), color=color)
        assert "\x1b[2J" not in text
        assert "a\\x1b[2Jb" in text and "c\\nd" in text


def test_terminal_marks_unknown_words() -> None:
    text = render_terminal(make(unknown=[False, True, False, False, False]), color=False)
    assert "film*(+0.00)" in text and "not in the vocabulary" in text
    assert "not in the vocabulary" not in render_terminal(make(), color=False)


def test_terminal_rows_align_one_row_per_method() -> None:
    explanations = [
        make(method="lrp"),
        make(method="sensitivity", relevance=[12.5, -0.1, 0.0, 0.3, 0.1]),
        make(method="occlusion", relevance=[0.0] * 5),
    ]
    text = render_terminal_rows(explanations, color=False, width=200)
    rows = [line for line in text.splitlines() if " | " in line and "(" in line]
    assert [row.split()[0] for row in rows] == ["lrp", "sensitivity", "occlusion"]
    assert len({row.index(" | ") for row in rows}) == 1  # method column aligned
    for token in TOKENS:  # token columns aligned across rows
        assert len({row.index(token + "(") for row in rows}) == 1
    assert "the(+12.50)" in rows[1] and "never(-0.40)" in rows[0]


def test_terminal_rows_wrap_in_blocks_and_colour_each_row() -> None:
    tokens = [f"tok{i}" for i in range(30)]
    explanations = [
        make(tokens, [float(i) for i in range(30)], method="a"),
        make(tokens, [-float(i) for i in range(30)], method="b"),
    ]
    text = render_terminal_rows(explanations, color=True, width=50)
    lines = [ANSI.sub("", line) for line in text.splitlines()]
    assert max(len(line) for line in lines) <= 50
    a_rows = [line for line in lines if line.startswith("a ")]
    assert len(a_rows) > 1 and len(a_rows) == len([x for x in lines if x.startswith("b ")])
    assert _background_of(text, "tok29")[0] == 255  # red in row a
    assert (0, 0, 255) in [
        tuple(int(x) for x in m) for m in re.findall(r"\x1b\[48;2;(\d+);(\d+);(\d+)m", text)
    ]  # full blue in row b


def test_terminal_rows_require_the_same_sentence() -> None:
    with pytest.raises(ValueError, match="same sentence"):
        render_terminal_rows([make(), make(["other", "words", "here", "and", "more"])])


# --- PNG ----------------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _strong_blue_pixels(path: Path) -> int:
    import matplotlib.image

    image = matplotlib.image.imread(path)[..., :3]
    return int(((image[..., 2] > 0.9) & (image[..., 0] < 0.3) & (image[..., 1] < 0.3)).sum())


def test_png_is_written_and_valid(tmp_path: Path) -> None:
    import matplotlib

    backend = matplotlib.get_backend()
    path = render_png([make(), make(method="occlusion", relevance=[0.0] * 5)], tmp_path / "a.png")
    assert path == tmp_path / "a.png"
    width, height = _png_size(path)
    assert width > 300 and height > 150
    assert path.stat().st_size > 5_000
    assert matplotlib.get_backend() == backend


def test_png_colours_negative_tokens_blue(tmp_path: Path) -> None:
    positive_only = render_png(make(relevance=[0.0, 0.0, 0.0, 0.0, 1.0]), tmp_path / "p.png")
    with_negative = render_png(make(relevance=[0.0, 0.0, 0.0, -1.0, 1.0]), tmp_path / "n.png")
    # The colour bar has some full blue in both; a fully negative token adds a blue box.
    assert _strong_blue_pixels(with_negative) > _strong_blue_pixels(positive_only) + 500


def test_png_wraps_long_sentences(tmp_path: Path) -> None:
    short = render_png(make(), tmp_path / "short.png")
    tokens = [f"token{i}" for i in range(80)]
    long = render_png(make(tokens, [math.cos(i) for i in range(80)]), tmp_path / "long.png")
    short_h, (long_w, long_h) = _png_size(short)[1], _png_size(long)
    assert long_w <= 10 * 150 + 1  # default width of 10 inches at 150 dpi
    assert long_h > short_h + 100  # wrapped onto more lines, not one endless line


def test_png_refuses_nan_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "nan.png"
    with pytest.raises(ValueError, match="NaN"):
        render_png(make(relevance=[math.nan] * 5), path)
    assert not path.exists()
