"""Model-randomisation sanity check (Adebayo et al. 2018), adapted to text classifiers.

Every learned parameter above the embedding is redrawn at random, so the randomised model
computes an unrelated function of the same input vectors; an explanation that reflects the
model should then change. The embedding stays, because here it is the input representation
(the counterpart of an image's pixels), and a method such as Gradient×Input would otherwise
change merely because its inputs changed.
"""

from __future__ import annotations

import copy

import torch


def randomized_copy(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A deep copy of ``model`` whose non-embedding parameters are redrawn; ``model`` is kept.

    Each tensor is replaced by Gaussian values with the original tensor's own mean and
    standard deviation (a tensor of one element keeps its value), so activations stay on a
    similar scale while the learned structure is gone.
    """
    randomized = copy.deepcopy(model)
    embedding = {id(p) for p in randomized.embedding.parameters()}
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in randomized.parameters():
            if id(parameter) in embedding:
                continue
            values = parameter.detach().double().cpu()
            std = float(values.std()) if values.numel() > 1 else 0.0
            mean = float(values.mean())
            drawn = torch.randn(values.shape, generator=generator, dtype=torch.float64)
            parameter.copy_((mean + std * drawn).to(parameter.dtype))
    return randomized.eval()
