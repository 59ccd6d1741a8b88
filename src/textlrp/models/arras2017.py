"""Importer for the bi-LSTM released with Arras et al. (2017), ``LRP_for_LSTM``.

The release stores, per encoder ("Left" reads forwards, "Right" reads the reversed text),
``Wxh`` (4d×e), ``Whh`` (4d×d), ``bxh``, ``bhh`` (4d) with gate rows ordered i, g, f, o, and
``Why_Left``/``Why_Right`` (C×d) for an output layer without bias; ``vocab`` is a pickled list
of words whose positions are the embedding rows. The release also has the embedding matrix
(``model/embeddings.npy``), but its content is missing from every copy we could get (see
``shared/data/arras2017-bilstm/README.md``), so it is passed in (or read from
``embeddings.npy`` beside the weights, where you have the file).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from textlrp.data.sst import SST_CLASS_NAMES
from textlrp.errors import ModelError
from textlrp.models.recurrent import ClassifierConfig, RecurrentClassifier, check_finite_weights
from textlrp.models.vocab import Vocabulary

WEIGHT_KEYS = (
    "Wxh_Left", "bxh_Left", "Whh_Left", "bhh_Left",
    "Wxh_Right", "bxh_Right", "Whh_Right", "bhh_Right",
    "Why_Left", "Why_Right",
)  # fmt: skip
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays, lists, dicts and strings: a model file runs no code."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle protocol
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _read_pickle(path: Path) -> object:
    if not path.is_file():
        raise ModelError(
            f"{path} not found; point load_arras2017 at the folder holding the released "
            "'model' and 'vocab' files"
        )
    try:
        with path.open("rb") as handle:
            return _ArrayUnpickler(handle).load()
    except Exception as exc:  # noqa: BLE001 - any failure means the file is not the release
        raise ModelError(f"could not read {path} as the released pickle: {exc}") from None


def gates_igfo_to_ifgo(matrix: np.ndarray) -> np.ndarray:
    """Reorder the 4d gate rows from the release's i, g, f, o to PyTorch's i, f, g, o."""
    i, g, f, o = np.split(np.asarray(matrix), 4, axis=0)
    return np.concatenate([i, f, g, o], axis=0)


def load_arras2017(
    model_dir: str | Path,
    embeddings: np.ndarray | torch.Tensor | str | Path | None = None,
    dtype: torch.dtype = torch.float64,
) -> RecurrentClassifier:
    """An :class:`RecurrentClassifier` whose forward pass equals the released equations.

    ``embeddings`` is the V×e matrix (rows in ``vocab`` order), a path to a ``.npy`` file, or
    ``None`` to read ``embeddings.npy`` from ``model_dir``.
    """
    model_dir = Path(model_dir)
    weights = _read_pickle(model_dir / "model")
    words = _read_pickle(model_dir / "vocab")
    if not isinstance(weights, dict) or any(key not in weights for key in WEIGHT_KEYS):
        raise ModelError(f"{model_dir / 'model'} lacks the released keys {', '.join(WEIGHT_KEYS)}")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ModelError(f"{model_dir / 'vocab'} is not a pickled list of words")
    matrix = _embedding_matrix(model_dir, embeddings)
    hidden, emb_dim = weights["Whh_Left"].shape[1], weights["Wxh_Left"].shape[1]
    if matrix.shape != (len(words), emb_dim):
        raise ModelError(
            f"embeddings have shape {matrix.shape}; the released model needs "
            f"({len(words)}, {emb_dim}): one row per vocabulary word, in vocab order"
        )
    vocab = Vocabulary.from_list(words)
    config = ClassifierConfig(embedding_dim=emb_dim, hidden_size=hidden, bidirectional=True)
    model = RecurrentClassifier(vocab, SST_CLASS_NAMES, config).to(dtype)
    state = {
        # rows 0 and 1 are the padding and unknown-word tokens the release does not have
        "embedding.weight": np.concatenate([np.zeros((2, emb_dim)), matrix]),
        "output.weight": np.concatenate([weights["Why_Left"], weights["Why_Right"]], axis=1),
    }
    for side, suffix in (("Left", ""), ("Right", "_reverse")):
        state[f"rnn.weight_ih_l0{suffix}"] = gates_igfo_to_ifgo(weights[f"Wxh_{side}"])
        state[f"rnn.weight_hh_l0{suffix}"] = gates_igfo_to_ifgo(weights[f"Whh_{side}"])
        state[f"rnn.bias_ih_l0{suffix}"] = gates_igfo_to_ifgo(weights[f"bxh_{side}"])
        state[f"rnn.bias_hh_l0{suffix}"] = gates_igfo_to_ifgo(weights[f"bhh_{side}"])
    tensors = {k: torch.as_tensor(np.asarray(v), dtype=dtype) for k, v in state.items()}
    model.load_state_dict(tensors)
    check_finite_weights(model, source=str(model_dir))
    return model.eval()


def _embedding_matrix(
    model_dir: Path, embeddings: np.ndarray | torch.Tensor | str | Path | None
) -> np.ndarray:
    if embeddings is None:
        embeddings = model_dir / "embeddings.npy"
        if not embeddings.is_file():
            raise ModelError(
                f"no embeddings.npy in {model_dir}: the released embedding matrix is not public; "
                "pass embeddings=<V×e array or .npy path> to load_arras2017"
            )
    if isinstance(embeddings, str | Path):
        try:
            embeddings = np.load(embeddings)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"could not read embeddings from {embeddings}: {exc}") from None
    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().cpu().numpy()
    matrix = np.asarray(embeddings, dtype=np.float64)
    if matrix.ndim != 2:
        raise ModelError(f"embeddings must be a 2-D matrix (V×e), got shape {matrix.shape}")
    return matrix
