"""Optional compiled step loops for the LSTM trace and LRP-all (C++ calling the same ATen ops).

The per-step loops of :mod:`textlrp.lrp.lstm` do a handful of small tensor operations per time
step; for one short sentence, Python's overhead per operation costs more than the arithmetic.
This module compiles the same loops, operation for operation, as a C++ extension
(``torch.utils.cpp_extension``), so results are bit-for-bit those of the Python loops (the
tests compare them). It builds once, in a background thread, into PyTorch's extension cache;
until it is ready, or when no compiler (or ninja) is available, or with ``TEXTLRP_NATIVE=0``,
the pure-PyTorch loops run instead.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

SOURCE = r"""
#include <torch/extension.h>
#include <optional>

void forward_steps(at::Tensor pre, at::Tensor gates, at::Tensor c, at::Tensor h,
                   const at::Tensor& w_hh_t, const std::vector<int64_t>& sizes,
                   const std::vector<int64_t>& offsets) {
  at::NoGradGuard no_grad;
  const int64_t d = c.size(1);
  for (size_t t = 0; t < sizes.size(); ++t) {
    const int64_t n = sizes[t];
    if (n == 0) break;
    const int64_t o = offsets[t];
    auto pre_t = pre.narrow(0, o, n);
    auto gates_t = gates.narrow(0, o, n);
    auto c_t = c.narrow(0, o, n);
    auto h_t = h.narrow(0, o, n);
    if (t > 0) pre_t.addmm_(h.narrow(0, offsets[t - 1], n), w_hh_t);
    at::sigmoid_out(gates_t, pre_t);
    auto g_t = gates_t.narrow(1, 2 * d, d);
    at::tanh_out(g_t, pre_t.narrow(1, 2 * d, d));
    at::mul_out(c_t, gates_t.narrow(1, 0, d), g_t);
    if (t > 0) c_t.addcmul_(gates_t.narrow(1, d, d), c.narrow(0, offsets[t - 1], n));
    at::tanh_out(h_t, c_t);
    h_t.mul_(gates_t.narrow(1, 3 * d, d));
  }
}

std::vector<at::Tensor> relevance_all_steps(
    at::Tensor relevance, at::Tensor scaled, const at::Tensor& incoming,
    const at::Tensor& input_share, const at::Tensor& forget_share, const at::Tensor& h,
    const at::Tensor& w_hg, const std::vector<int64_t>& sizes,
    const std::vector<int64_t>& offsets, const std::optional<at::Tensor>& cell_shared,
    const std::optional<at::Tensor>& gate_denominator,
    const std::optional<at::Tensor>& gate_shared) {
  at::NoGradGuard no_grad;
  const bool delta = cell_shared.has_value();
  at::Tensor r_h0, r_c0;
  for (int64_t t = (int64_t)sizes.size() - 1; t >= 0; --t) {
    const int64_t n = sizes[t];
    if (n == 0) continue;
    const int64_t o = offsets[t];
    auto r = relevance.narrow(0, 0, n);
    r.add_(incoming.narrow(0, o, n));
    auto s = scaled.narrow(0, o, n);
    at::mul_out(s, input_share.narrow(0, o, n), r);
    at::Tensor shared, r_hidden;
    if (delta) {
      shared = (cell_shared->narrow(0, o, n) * r).sum(-1, true);
      s.addcdiv_(shared.expand_as(s), gate_denominator->narrow(0, o, n));
    }
    auto back = at::matmul(s, w_hg);
    auto h_prev = t > 0 ? h.narrow(0, offsets[t - 1], n) : at::zeros_like(s);
    if (delta) {
      r_hidden = at::addcmul((gate_shared->narrow(0, o, n) * s).sum(-1, true).expand_as(s),
                             h_prev, back);
      r.mul_(forget_share.narrow(0, o, n)).add_(shared);
    } else {
      r_hidden = h_prev * back;
      r.mul_(forget_share.narrow(0, o, n));
    }
    if (t == 0) {
      r_h0 = r_hidden;
      r_c0 = r.clone();
    }
    r.add_(r_hidden);
  }
  return {r_h0, r_c0};
}

// LRP-all's per-element shares, as lstm._relevance_all computes them with tensor operations
// (same IEEE operations in the same order, so the same bits): with c' = c + ε sign c and
// p' = pre_g + ε sign pre_g, input_share = i g / c' / p' and forget_share = f c_{t-1} / c'.
std::vector<at::Tensor> all_shares(const at::Tensor& c, const at::Tensor& i,
                                   const at::Tensor& f, const at::Tensor& g,
                                   const at::Tensor& pre_g, const at::Tensor& previous,
                                   double eps) {
  auto input_share = at::empty_like(c, at::MemoryFormat::Contiguous);
  auto forget_share = at::empty_like(c, at::MemoryFormat::Contiguous);
  const int64_t rows = c.size(0), d = c.size(1);
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "all_shares", [&] {
    const scalar_t e = static_cast<scalar_t>(eps);
    auto C = c.accessor<scalar_t, 2>();
    auto I = i.accessor<scalar_t, 2>();
    auto F = f.accessor<scalar_t, 2>();
    auto G = g.accessor<scalar_t, 2>();
    auto P = pre_g.accessor<scalar_t, 2>();
    auto prev = previous.accessor<int64_t, 1>();
    auto IS = input_share.accessor<scalar_t, 2>();
    auto FS = forget_share.accessor<scalar_t, 2>();
    for (int64_t k = 0; k < rows; ++k) {
      const int64_t p = prev[k];
      for (int64_t j = 0; j < d; ++j) {
        const scalar_t cv = C[k][j];
        const scalar_t cd = cv >= 0 ? cv + e : cv - e;
        const scalar_t pv = P[k][j];
        const scalar_t gd = pv >= 0 ? pv + e : pv - e;
        const scalar_t cp = p == 0 ? scalar_t(0) : C[p - 1][j];
        const scalar_t ig = I[k][j] * G[k][j];
        const scalar_t igc = ig / cd;
        IS[k][j] = igc / gd;
        const scalar_t fc = F[k][j] * cp;
        FS[k][j] = fc / cd;
      }
    }
  });
  return {input_share, forget_share};
}
"""

_lock = threading.Lock()
_state: dict[str, object] = {"module": None, "started": False, "error": None}


def enabled() -> bool:
    return os.environ.get("TEXTLRP_NATIVE", "1") != "0"


def _build() -> None:
    try:
        from torch.utils.cpp_extension import load_inline

        module = load_inline(
            name="textlrp_lstm_steps_v2",
            cpp_sources=SOURCE,
            functions=["forward_steps", "relevance_all_steps", "all_shares"],
            extra_cflags=["-O2", "-ffp-contract=off"],
            verbose=False,
        )
        _state["module"] = module
    except Exception as exc:  # noqa: BLE001 - no compiler/ninja/headers: the fallback runs
        _state["error"] = exc


def kernels(wait: bool = False) -> ModuleType | None:
    """The compiled loops, or ``None`` while they build (in the background) or cannot be built.

    ``wait=True`` builds in the calling thread and returns the outcome (for tests/benchmarks).
    """
    if not enabled():
        return None
    module = _state["module"]
    if module is not None or _state["error"] is not None:
        return module  # type: ignore[return-value]
    with _lock:
        if not _state["started"]:
            _state["started"] = True
            if wait:
                _build()
            else:
                threading.Thread(target=_build, name="textlrp-native-build", daemon=True).start()
                return None
    if wait:
        while _state["module"] is None and _state["error"] is None:
            threading.Event().wait(0.1)
    return _state["module"]  # type: ignore[return-value]


def build_error() -> Exception | None:
    return _state["error"]  # type: ignore[return-value]
