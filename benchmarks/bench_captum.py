"""Benchmark: textlrp against Captum on the methods both have, same model, texts and chunks.

Captum (a benchmark-only dependency: ``pip install textlrp[bench]``) is used as its
documentation recommends for a text model: attributions on the embedding layer's output with a
forward function taking the embedded batch (and the lengths as ``additional_forward_args``),
targets from one forward pass, ``Saliency(abs=False)``, ``InputXGradient``,
``IntegratedGradients(method="gausslegendre", internal_batch_size=...)`` and ``Occlusion`` with a
one-word window and zero baseline (``perturbations_per_eval`` batching). Both sides get the same
length-sorted chunks of sentences and the same rows per pass; textlrp's time is the whole
``explain()`` call, encoding and result objects included. Prints both times, the ratio
measured in one run, and the largest difference of the attributions.

    python benchmarks/bench_captum.py [--model bundled|arras2017|PATH] [--ig-steps 50]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import warnings

import torch
from common import add_common_arguments, machine, once, setup, test_sentences

import textlrp
from textlrp.batching import DEFAULT_BATCH_SIZE, encode_batch, length_sorted_chunks, rows_per_pass


def captum_runner(model, batch, dtype, method: str, ig_steps: int):
    try:
        from captum.attr import InputXGradient, IntegratedGradients, Occlusion, Saliency
    except ImportError:
        raise SystemExit("Captum is not installed: pip install 'textlrp[bench]'") from None

    def forward(embedded, lengths):
        return model.forward_embedded(embedded, lengths)

    chunks = list(length_sorted_chunks(batch, DEFAULT_BATCH_SIZE))

    def run() -> torch.Tensor:
        result = torch.zeros(batch.token_ids.shape, dtype=dtype)
        for index, chunk in chunks:
            inputs = chunk.inputs(model, dtype)
            lengths = chunk.lengths
            with torch.no_grad():
                target = forward(inputs, lengths).argmax(-1)
            extra = (lengths,)
            steps = inputs.shape[1]
            if method == "gradient":
                grad = Saliency(forward).attribute(
                    inputs, target=target, abs=False, additional_forward_args=extra
                )
                value = (grad**2).sum(-1)
            elif method == "gradient_x_input":
                value = InputXGradient(forward).attribute(
                    inputs, target=target, additional_forward_args=extra
                ).sum(-1)
            elif method == "integrated_gradients":
                value = IntegratedGradients(forward).attribute(
                    inputs,
                    baselines=0.0,
                    target=target,
                    additional_forward_args=extra,
                    n_steps=ig_steps,
                    method="gausslegendre",
                    internal_batch_size=rows_per_pass(model, steps, dtype),
                ).sum(-1)
            else:  # occlusion, f-diff with a zero embedding
                rows = 2 * rows_per_pass(model, steps, dtype)
                value = Occlusion(forward).attribute(
                    inputs,
                    sliding_window_shapes=(1, inputs.shape[2]),
                    strides=(1, inputs.shape[2]),
                    baselines=0.0,
                    target=target,
                    additional_forward_args=extra,
                    perturbations_per_eval=max(1, rows // inputs.shape[0]),
                )[..., 0]
            result[index, :steps] = value.detach() * chunk.mask
        return result

    return run


METHODS = {
    "gradient": "gradient",
    "gradient_x_input": "gradient_x_input",
    "integrated_gradients": "integrated_gradients",
    "occlusion": "occlusion_f",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--ig-steps", type=int, default=50)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
    loaded = setup(args)
    dtype = textlrp.api.DTYPES[args.dtype]
    model = copy.deepcopy(loaded).to(dtype)
    texts, source = test_sentences(model, args.data_dir)
    batch = encode_batch(model, texts)
    print(f"data: {source}, {len(texts)} texts; model {args.model}, dtype {args.dtype}")
    print(f"machine: {machine()}\n")
    print("| method               | textlrp s | Captum s | textlrp / Captum (min, median) "
          "| max |difference| |")
    print("|----------------------|-----------|----------|--------------------------------"
          "|------------------|")
    for name in args.methods.split(","):
        ours_name = METHODS[name]
        options = {"steps": args.ig_steps} if name == "integrated_gradients" else {}
        theirs = captum_runner(model, batch, dtype, name, args.ig_steps)

        def ours(ours_name=ours_name, options=options):
            return textlrp.explain(model, texts, method=ours_name, dtype=dtype, **options)

        repeats = 1 if name == "integrated_gradients" else args.repeats
        ours_result, theirs_result = ours(), theirs()
        difference = float((ours_result.batch.relevance - theirs_result).abs().max())
        pairs = []
        for _ in range(repeats):
            a, b = once(ours), once(theirs)
            pairs.append((a, b))
        ratios = [a / b for a, b in pairs]
        print(
            f"| {name:20s} | {statistics.median(a for a, _ in pairs):9.2f} | "
            f"{statistics.median(b for _, b in pairs):8.2f} | "
            f"{min(ratios):6.2f}, {statistics.median(ratios):6.2f}"
            f"{'':18s} | {difference:16.2e} |"
        )


if __name__ == "__main__":
    main()
