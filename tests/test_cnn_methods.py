"""Every method of the registry on CNNs, the CLI on a saved CNN, and bad input."""

from __future__ import annotations

import copy

import pytest
import torch
from cnn_fixtures import WORDS, random_cnn
from conftest import random_model

import textlrp
from textlrp import InputError, ModelError
from textlrp.api import encode_batch
from textlrp.cli.main import main
from textlrp.methods.builtin.integrated_gradients import quadrature
from textlrp.methods.builtin.occlusion import occluded_scores

DOCS = [["fun"], ["never", "fails"], WORDS[:7], ["the", "game", "was", "not", "boring"]]
METHODS = [
    ("gradient", {}),
    ("gradient_x_input", {}),
    ("occlusion_f", {"mode": "zero"}),
    ("occlusion_f", {"mode": "drop"}),
    ("occlusion_p", {"mode": "drop"}),
    ("integrated_gradients", {"steps": 8}),
    ("lrp", {}),
    ("lrp_cons", {"composite": "epsilon_plus"}),
]


def reference_scores(model, x: torch.Tensor) -> torch.Tensor:
    """Scores (C,) of one document x (L, e), written without the model's batching code."""
    pooled = []
    for conv in model.convs:
        width = conv.kernel_size[0]
        padded = torch.cat([x, x.new_zeros(max(width - x.shape[0], 0), x.shape[1])])
        z = torch.nn.functional.conv1d(padded.T[None], conv.weight, conv.bias)[0]
        pooled.append(torch.relu(z).amax(-1))
    return model.output(model.head(torch.cat(pooled)))


def embedded_doc(model, tokens):
    return model.embedding(torch.tensor(model.vocab.encode(tokens))).detach()


@pytest.mark.parametrize("target", [0, 2])
def test_gradient_methods_equal_autograd_of_a_plain_forward(target):
    model = random_cnn(widths=(1, 3, 4), head_hidden=(5,), seed=1)
    grads = textlrp.explain(model, DOCS, "gradient", target=target, dtype=torch.float64)
    products = textlrp.explain(model, DOCS, "gradient_x_input", target=target, dtype="float64")
    for tokens, g, p in zip(DOCS, grads, products, strict=True):
        x = embedded_doc(model, tokens).requires_grad_(True)
        (expected,) = torch.autograd.grad(reference_scores(model, x)[target], x)
        torch.testing.assert_close(g.relevance_per_dim, expected**2, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(p.relevance_per_dim, x.detach() * expected)


@pytest.mark.parametrize("mode", ["zero", "drop"])
def test_occlusion_equals_explicit_forward_passes(mode):
    model = random_cnn(widths=(2, 3), head_hidden=(4,), seed=2)
    result = occluded_scores(model, encode_batch(model, DOCS), torch.float64, mode)
    with torch.no_grad():
        for row, tokens in enumerate(DOCS):
            x = embedded_doc(model, tokens)
            for t in range(len(tokens)):
                if mode == "zero":
                    occluded = x.clone()
                    occluded[t] = 0.0
                else:  # one word dropped; the one-word document becomes empty
                    occluded = torch.cat([x[:t], x[t + 1 :]])
                expected = reference_scores(model, occluded)
                torch.testing.assert_close(result[row, t], expected, rtol=0, atol=1e-12)


def test_integrated_gradients_equal_their_quadrature():
    model = random_cnn(widths=(2, 3), seed=3)
    alphas, weights = quadrature("gausslegendre", 6)
    result = textlrp.explain(
        model, DOCS, "integrated_gradients", target=1, dtype=torch.float64, steps=6
    )
    for tokens, e in zip(DOCS, result, strict=True):
        x = embedded_doc(model, tokens)
        total = torch.zeros_like(x)
        for alpha, weight in zip(alphas.tolist(), weights.tolist(), strict=True):
            point = (alpha * x).requires_grad_(True)
            (grad,) = torch.autograd.grad(reference_scores(model, point)[1], point)
            total += weight * grad
        torch.testing.assert_close(e.relevance_per_dim, x * total, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method,options", METHODS, ids=[f"{m}-{o}" for m, o in METHODS])
def test_batched_equals_one_by_one(method, options):
    model = random_cnn(widths=(2, 5), head_hidden=(3,), seed=4)
    batched = textlrp.explain(model, DOCS, method, dtype=torch.float64, **options)
    for tokens, e in zip(DOCS, batched, strict=True):
        [alone] = textlrp.explain(model, [tokens], method, dtype=torch.float64, **options)
        torch.testing.assert_close(alone.relevance, e.relevance, rtol=1e-12, atol=1e-14)
        assert alone.target == e.target


def test_cd_refuses_a_cnn():
    with pytest.raises(InputError, match="does not apply to a CNN"):
        textlrp.explain(random_cnn(), DOCS, "cd")


def test_cli_explains_a_saved_cnn_and_skips_cd(tmp_path, capsys):
    path = tmp_path / "cnn.pt"
    random_cnn(widths=(2, 3)).float().save(path)
    out = tmp_path / "out.json"
    assert (
        main(
            [
                "explain",
                "--model",
                str(path),
                "--method",
                "all",
                "--json",
                str(out),
                "the game was fun",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "skipped cd" in captured.err and "CNN" in captured.err
    assert '"method": "lrp"' in out.read_text()
    assert main(["explain", "--model", str(path), "--product-rule", "prop", "fun game"]) == 2
    assert "product_rule applies to LSTM/GRU" in capsys.readouterr().err
    assert main(["explain", "--model", str(path), "--composite", "epsilon_plus", "fun game"]) == 0
    capsys.readouterr()
    lstm = tmp_path / "lstm.pt"
    random_model().save(lstm)
    assert main(["explain", "--model", str(lstm), "--conv-rule", "zplus", "the movie"]) == 2
    assert "apply to CNN models only" in capsys.readouterr().err


@pytest.mark.parametrize("method", [m for m in textlrp.available_methods() if m != "cd"])
def test_cnn_method_on_gpu_equals_cpu(method):
    if not torch.cuda.is_available():
        pytest.skip("no cuda device on this machine: the GPU path is not checked here")
    cpu_model = random_cnn(widths=(2, 3), head_hidden=(4,), seed=7)
    model = copy.deepcopy(cpu_model).to("cuda")
    expected = textlrp.explain(cpu_model, DOCS, method=method, dtype=torch.float64)
    result = textlrp.explain(model, DOCS, method=method, dtype=torch.float64)
    for a, b in zip(expected, result, strict=True):
        torch.testing.assert_close(b.relevance, a.relevance, rtol=1e-9, atol=1e-12)


def test_bad_documents_get_clear_errors():
    model = random_cnn()
    with pytest.raises(InputError, match="empty"):
        textlrp.explain(model, [""])
    with pytest.raises(InputError, match="no word in the model's vocabulary"):
        textlrp.explain(model, ["zebra quokka"])
    with torch.no_grad():
        model.convs[1].bias[0] = float("nan")
    with pytest.raises(ModelError, match="convs.1.bias"):
        textlrp.explain(model, ["the game"])


def test_a_document_of_200000_words():
    """LRP and the gradient of one very long document, in bounded memory (no T×T pieces)."""
    model = random_cnn(widths=(3, 5), head_hidden=(4,), seed=6)
    generator = torch.Generator().manual_seed(0)
    picks = torch.randint(0, len(WORDS), (200_000,), generator=generator).tolist()
    tokens = [WORDS[i] for i in picks]
    [e] = textlrp.explain(model, [tokens], "lrp_cons", dtype=torch.float64)
    assert e.relevance.shape == (200_000,)
    assert float(e.relevance.sum()) == pytest.approx(e.target_score, rel=1e-9)
    # at most (widths × filters) windows carry relevance: H·F words at most are non-zero
    assert int((e.relevance != 0).sum()) <= (3 + 5) * 3
    [g] = textlrp.explain(model, [tokens], "gradient_x_input", dtype=torch.float64)
    assert torch.isfinite(g.relevance).all()


@pytest.mark.parametrize("method", ["occlusion_f", "integrated_gradients"])
def test_long_documents_go_in_passes_of_bounded_size(method, monkeypatch):
    """A memory budget of one or two copies of the longest document per pass changes nothing."""
    from textlrp.methods.builtin import integrated_gradients, occlusion

    model = random_cnn(widths=(2, 3), seed=8)
    docs = [WORDS * 4, WORDS[:5]]
    options = {"steps": 5} if method == "integrated_gradients" else {"mode": "drop"}
    reference = textlrp.explain(model, docs, method, dtype=torch.float64, **options)
    # the smallest budget: one copy per gradient pass, two per forward-only (occlusion) pass
    monkeypatch.setattr(occlusion, "rows_per_pass", lambda *args: 1)
    monkeypatch.setattr(integrated_gradients, "rows_per_pass", lambda *args: 1)
    calls = []
    forward = model.forward_embedded
    monkeypatch.setattr(
        model, "forward_embedded", lambda x, n: calls.append(len(x)) or forward(x, n)
    )
    result = textlrp.explain(model, docs, method, dtype=torch.float64, **options)
    assert max(calls[1:]) <= 2  # after the unoccluded scores, at most two copies at a time
    for a, b in zip(reference, result, strict=True):
        torch.testing.assert_close(b.relevance, a.relevance, rtol=1e-12, atol=1e-14)


def test_chunks_of_long_documents_are_bounded_in_tokens(monkeypatch):
    from textlrp import batching

    model = random_cnn(widths=(2, 3), seed=9)
    docs = [WORDS * 5, WORDS[:3], WORDS * 2, ["fun"], WORDS[:9]]
    reference = textlrp.explain(model, docs, "lrp_cons", dtype=torch.float64)
    monkeypatch.setattr(batching, "CHUNK_TOKENS", 2 * len(WORDS) * 2)
    batch = batching.encode_batch(model, docs)
    chunks = [index.tolist() for index, _ in batching.length_sorted_chunks(batch, 128)]
    assert chunks == [[0], [2, 4], [1, 3]]  # 70 steps alone; 28 + 9 ≤ 56; then the rest
    result = textlrp.explain(model, docs, "lrp_cons", dtype=torch.float64)
    for a, b in zip(reference, result, strict=True):
        torch.testing.assert_close(b.relevance_per_dim, a.relevance_per_dim, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["gradient", "gradient_x_input", "lrp"])
def test_repeated_windows_tie_to_the_first(method):
    """Identical windows score alike: gradient and LRP both take the first one, alone and
    inside a padded batch."""
    model = random_cnn(widths=(2,), num_filters=4, seed=10)
    doc = ["fun", "game"] * 3
    result = textlrp.explain(model, [doc, WORDS], method, dtype=torch.float64)
    assert float(result[0].relevance[3:].abs().sum()) == 0.0
    assert float(result[0].relevance[:3].abs().sum()) > 0.0
    [alone] = textlrp.explain(model, [doc], method, dtype=torch.float64)
    torch.testing.assert_close(alone.relevance, result[0].relevance, rtol=1e-12, atol=1e-14)
