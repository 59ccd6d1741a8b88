"""Optional native kernel: loss and gradient of many 17-parameter LSTMs, fused in C.

The eager PyTorch version (:func:`textlrp.experiments.toy.model.loss_and_grad`) makes ~35
passes over (models × sequences) arrays per time step, which is memory- and overhead-bound
(~5 ms per model and evaluation on 2 cores). This kernel runs forward and backward of one
block of 64 equally long sequences in registers/L1, vectorised across the sequences by the
compiler (``#pragma omp simd`` with glibc's vector ``expf``/``tanhf``), ~30× faster.

It is compiled once with the system C compiler into a cache folder and loaded with ctypes
(no Python headers, no OpenMP runtime). Models are split over threads from Python: ctypes
releases the GIL during the call. If no compiler is available, callers fall back to the
eager version, which computes the same function (see the tests).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

_TEMPLATE = r"""
void NAME(int models, const REAL *params, int groups, const int *group_len,
          const int *group_count, const long *group_x, const long *group_y,
          const REAL *x, const REAL *y, long total, double *loss, double *grad)
{
  enum { BS = 64, TMAX = 64 };
  for (int m = 0; m < models; m++) {
    const REAL *p = params + 17 * m;
    /* torch gate order i, f, g, o: U[2k], U[2k+1], W[8+k], b[12+k] */
    const REAL ui0 = p[0], ui1 = p[1], uf0 = p[2], uf1 = p[3];
    const REAL ug0 = p[4], ug1 = p[5], uo0 = p[6], uo1 = p[7];
    const REAL wi = p[8], wf = p[9], wg = p[10], wo = p[11];
    const REAL bi = p[12], bf = p[13], bg = p[14], bo = p[15], wout = p[16];
    const REAL scale = (REAL)(2.0 / (double)total);
    double sse = 0.0, gsum[17];
    for (int k = 0; k < 17; k++) gsum[k] = 0.0;
    for (int q = 0; q < groups; q++) {
      const int len = group_len[q], count = group_count[q];
      const REAL *gx = x + group_x[q], *gy = y + group_y[q];
      for (int start = 0; start < count; start += BS) {
        const int nb = count - start < BS ? count - start : BS;
        REAL si[TMAX][BS], sf[TMAX][BS], sg[TMAX][BS], so[TMAX][BS], stc[TMAX][BS];
        REAL scp[TMAX][BS], shp[TMAX][BS];
        REAL h[BS], c[BS], dh[BS], dc[BS], acc[17][BS];
        for (int j = 0; j < BS; j++) { h[j] = 0; c[j] = 0; dc[j] = 0; }
        for (int k = 0; k < 17; k++)
          for (int j = 0; j < BS; j++) acc[k][j] = 0;
        for (int t = 0; t < len; t++) {
          const REAL *x0 = gx + (long)(2 * t) * count + start;
          const REAL *x1 = gx + (long)(2 * t + 1) * count + start;
#pragma omp simd
          for (int j = 0; j < nb; j++) {
            const REAL a = x0[j], b = x1[j], hp = h[j], cp = c[j];
            const REAL i = (REAL)1 / ((REAL)1 + EXP(-(ui0 * a + ui1 * b + wi * hp + bi)));
            const REAL f = (REAL)1 / ((REAL)1 + EXP(-(uf0 * a + uf1 * b + wf * hp + bf)));
            const REAL o = (REAL)1 / ((REAL)1 + EXP(-(uo0 * a + uo1 * b + wo * hp + bo)));
            const REAL g = TANH(ug0 * a + ug1 * b + wg * hp + bg);
            const REAL cn = f * cp + i * g;
            const REAL tc = TANH(cn);
            si[t][j] = i; sf[t][j] = f; sg[t][j] = g; so[t][j] = o; stc[t][j] = tc;
            scp[t][j] = cp; shp[t][j] = hp;
            c[j] = cn; h[j] = o * tc;
          }
        }
        for (int j = 0; j < nb; j++) {
          const REAL r = wout * h[j] - gy[start + j];
          sse += (double)r * (double)r;
          const REAL dp = scale * r;
          acc[16][j] = dp * h[j];
          dh[j] = dp * wout;
        }
        for (int t = len - 1; t >= 0; t--) {
          const REAL *x0 = gx + (long)(2 * t) * count + start;
          const REAL *x1 = gx + (long)(2 * t + 1) * count + start;
#pragma omp simd
          for (int j = 0; j < nb; j++) {
            const REAL i = si[t][j], f = sf[t][j], g = sg[t][j], o = so[t][j];
            const REAL tc = stc[t][j], a = x0[j], b = x1[j], hp = shp[t][j];
            const REAL dhj = dh[j];
            const REAL dcj = dc[j] + dhj * o * ((REAL)1 - tc * tc);
            const REAL zo = dhj * tc * o * ((REAL)1 - o);
            const REAL zi = dcj * g * i * ((REAL)1 - i);
            const REAL zg = dcj * i * ((REAL)1 - g * g);
            const REAL zf = dcj * scp[t][j] * f * ((REAL)1 - f);
            dc[j] = dcj * f;
            dh[j] = wi * zi + wf * zf + wg * zg + wo * zo;
            acc[0][j] += zi * a; acc[1][j] += zi * b;
            acc[2][j] += zf * a; acc[3][j] += zf * b;
            acc[4][j] += zg * a; acc[5][j] += zg * b;
            acc[6][j] += zo * a; acc[7][j] += zo * b;
            acc[8][j] += zi * hp; acc[9][j] += zf * hp;
            acc[10][j] += zg * hp; acc[11][j] += zo * hp;
            acc[12][j] += zi; acc[13][j] += zf; acc[14][j] += zg; acc[15][j] += zo;
          }
        }
        for (int k = 0; k < 17; k++) {
          double s = 0.0;
          for (int j = 0; j < nb; j++) s += (double)acc[k][j];
          gsum[k] += s;
        }
      }
    }
    loss[m] = sse / (double)total;
    for (int k = 0; k < 17; k++) grad[17 * m + k] = gsum[k];
  }
}
"""

_TWO_LOOP = r"""
void NAME_two_loop(int models, int size, int width, const REAL *steps, const REAL *dirs,
                   const REAL *rho, const long *count, const REAL *h_diag, const REAL *grad,
                   REAL *out)
{
  for (int m = 0; m < models; m++) {
    const REAL *s = steps + (long)m * size * width, *y = dirs + (long)m * size * width;
    const REAL *r = rho + (long)m * size, *g = grad + (long)m * width;
    REAL *q = out + (long)m * width;
    REAL alpha[size];
    const int first = size - (int)count[m];
    for (int p = 0; p < width; p++) q[p] = -g[p];
    for (int k = size - 1; k >= first; k--) {
      REAL dot = 0;
      for (int p = 0; p < width; p++) dot += s[(long)k * width + p] * q[p];
      alpha[k] = dot * r[k];
      for (int p = 0; p < width; p++) q[p] -= alpha[k] * y[(long)k * width + p];
    }
    for (int p = 0; p < width; p++) q[p] *= h_diag[m];
    for (int k = first; k < size; k++) {
      REAL dot = 0;
      for (int p = 0; p < width; p++) dot += y[(long)k * width + p] * q[p];
      const REAL beta = dot * r[k];
      for (int p = 0; p < width; p++) q[p] += s[(long)k * width + p] * (alpha[k] - beta);
    }
  }
}
"""

MAX_STEPS = 64  # TMAX of the kernel: the longest sequence it accepts
_SOURCE = (
    "/* generated by textlrp.experiments.toy.kernel */\n#include <math.h>\n"
    + _TEMPLATE.replace("NAME", "toy_lstm_f32")
    .replace("REAL", "float")
    .replace("EXP", "expf")
    .replace("TANH", "tanhf")
    + _TEMPLATE.replace("NAME", "toy_lstm_f64")
    .replace("REAL", "double")
    .replace("EXP", "exp")
    .replace("TANH", "tanh")
    + _TWO_LOOP.replace("NAME", "toy_f32").replace("REAL", "float")
    + _TWO_LOOP.replace("NAME", "toy_f64").replace("REAL", "double")
)
# Reproducible across machines: one fixed instruction-set level instead of -march=native, no
# re-association, no reciprocal rewriting, no fused multiply-add contraction. -ffast-math is
# still needed for glibc's vectorised expf/tanhf (libmvec is declared only under it); with
# the three -fno flags its remaining effects touch NaN/inf/signed-zero handling only.
_PORTABLE = ["-ffast-math", "-fno-associative-math", "-fno-reciprocal-math", "-ffp-contract=off"]
_COMPILE = ["-O3", *_PORTABLE, "-fopenmp-simd", "-fPIC", "-std=c99"]
_X86_64_V3 = ("avx2", "fma", "bmi2", "movbe", "f16c")  # CPU flags of the x86-64-v3 level

_library: ctypes.CDLL | None = None
_load_error: str | None = None


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "textlrp" / "kernels"


def _isa_flags() -> list[str]:
    """The fixed instruction-set level to build for: x86-64-v3 (AVX2) where the CPU has it.

    The same flags on every such machine give the same vector math, so the same results.
    """
    if platform.machine() not in ("x86_64", "AMD64"):
        return []
    try:
        cpu = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split() for line in cpu.splitlines() if line.startswith("flags")), [])
    return ["-march=x86-64-v3"] if all(flag in flags for flag in _X86_64_V3) else []


def _build(target: Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler found (set CC)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        source, obj = Path(tmp) / "toy_lstm.c", Path(tmp) / "toy_lstm.o"
        library = Path(tmp) / target.name
        source.write_text(_SOURCE)
        # Compile with -ffast-math (glibc's vector math needs it) but link without it: GCC < 13
        # would otherwise link crtfastmath.o, which flushes denormals in the whole process.
        subprocess.run(
            [compiler, *_COMPILE, *_isa_flags(), "-c", str(source), "-o", str(obj)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [compiler, "-shared", str(obj), "-o", str(library), "-lm"],
            check=True,
            capture_output=True,
        )
        os.replace(library, target)  # atomic: concurrent builders do not clash


def load() -> ctypes.CDLL | None:
    """The compiled kernel library, building it on first use; ``None`` if that fails."""
    global _library, _load_error
    if _library is not None or _load_error is not None:
        return _library
    if os.environ.get("TEXTLRP_NO_NATIVE"):
        _load_error = "disabled by TEXTLRP_NO_NATIVE"
        return None
    flags = " ".join(_COMPILE + _isa_flags())
    digest = hashlib.sha256((_SOURCE + flags + platform.machine()).encode()).hexdigest()
    target = _cache_dir() / f"toy_lstm_{digest[:16]}.so"
    try:
        if not target.is_file():
            _build(target)
        library = ctypes.CDLL(str(target))
    except (OSError, subprocess.CalledProcessError) as exc:
        _load_error = f"{exc.__class__.__name__}: {exc}"
        return None
    for name in ("toy_lstm_f32", "toy_lstm_f64"):
        function = getattr(library, name)
        function.restype = None
        function.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p] * 6
        function.argtypes += [ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    for name in ("toy_f32_two_loop", "toy_f64_two_loop"):
        function = getattr(library, name)
        function.restype = None
        function.argtypes = [ctypes.c_int] * 3 + [ctypes.c_void_p] * 7
    _library = library
    return _library


def available() -> bool:
    """Whether the native kernel could be built and loaded here."""
    return load() is not None


def two_loop(
    steps: torch.Tensor,
    dirs: torch.Tensor,
    rho: torch.Tensor,
    count: torch.Tensor,
    h_diag: torch.Tensor,
    grad: torch.Tensor,
) -> torch.Tensor:
    """L-BFGS direction -H·g per model (see :meth:`BatchedLBFGS._two_loop`), in C.

    History tensors are (M, H, P) with each model's ``count`` newest pairs at the end.
    """
    library = load()
    if library is None:
        raise RuntimeError(f"the native toy kernel is unavailable: {_load_error}")
    _require_cpu(steps, dirs, rho, count, h_diag, grad)
    dtype = grad.dtype
    function = library.toy_f32_two_loop if dtype == torch.float32 else library.toy_f64_two_loop
    models, size, width = steps.shape
    tensors = [t.contiguous() for t in (steps, dirs, rho, h_diag.to(dtype), grad)]
    count = count.to(torch.long).contiguous()
    out = torch.empty_like(tensors[4])
    function(
        models,
        size,
        width,
        tensors[0].data_ptr(),
        tensors[1].data_ptr(),
        tensors[2].data_ptr(),
        count.data_ptr(),
        tensors[3].data_ptr(),
        tensors[4].data_ptr(),
        out.data_ptr(),
    )
    return out


def _require_cpu(*tensors: torch.Tensor) -> None:
    """The kernel reads raw CPU pointers: a GPU tensor's pointer would crash the process."""
    for tensor in tensors:
        if tensor.device.type != "cpu":
            raise ValueError(
                f"the native toy kernel takes CPU tensors, got one on {tensor.device}; "
                "train with native=False (eager PyTorch) on other devices"
            )


class GroupedSequences:
    """Sequences grouped by length, each group stored (length, 2, count) for the kernel."""

    def __init__(
        self,
        inputs: torch.Tensor,
        lengths: torch.Tensor,
        targets: torch.Tensor,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        lengths = lengths.to(torch.long).cpu()
        if int(lengths.max()) > MAX_STEPS:
            raise ValueError(f"the native kernel takes at most {MAX_STEPS} steps")
        self.dtype = dtype
        self.total = int(lengths.numel())
        xs, ys, lens, counts, x_offsets, y_offsets = [], [], [], [], [], []
        x_at = y_at = 0
        for length in sorted(set(lengths.tolist())):
            rows = torch.nonzero(lengths == length)[:, 0]
            block = inputs[rows, :length].to(dtype).permute(1, 2, 0).contiguous()  # (L, 2, n)
            xs.append(block.reshape(-1))
            ys.append(targets[rows].to(dtype))
            lens.append(length)
            counts.append(int(rows.numel()))
            x_offsets.append(x_at)
            y_offsets.append(y_at)
            x_at += block.numel()
            y_at += int(rows.numel())
        self.x = torch.cat(xs).contiguous()
        self.y = torch.cat(ys).contiguous()
        self.group_len = torch.tensor(lens, dtype=torch.int32)
        self.group_count = torch.tensor(counts, dtype=torch.int32)
        self.group_x = torch.tensor(x_offsets, dtype=torch.long)
        self.group_y = torch.tensor(y_offsets, dtype=torch.long)


def loss_and_grad(
    params: torch.Tensor, data: GroupedSequences, threads: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared error (M,) and its gradient (M, 17), like the eager version.

    The models are split over ``threads`` (default: torch's thread count) Python threads.
    Sums are accumulated in float64 and the results returned in ``params.dtype``.
    """
    library = load()
    if library is None:
        raise RuntimeError(f"the native toy kernel is unavailable: {_load_error}")
    _require_cpu(params)
    if params.dtype != data.dtype:
        raise ValueError(f"params are {params.dtype} but the data was prepared as {data.dtype}")
    function = library.toy_lstm_f32 if params.dtype == torch.float32 else library.toy_lstm_f64
    params = params.detach().contiguous()
    models = params.shape[0]
    loss = torch.empty(models, dtype=torch.float64)
    grad = torch.empty(models, 17, dtype=torch.float64)

    def run(lo: int, hi: int) -> None:
        function(
            hi - lo,
            params[lo].data_ptr(),
            int(data.group_len.numel()),
            data.group_len.data_ptr(),
            data.group_count.data_ptr(),
            data.group_x.data_ptr(),
            data.group_y.data_ptr(),
            data.x.data_ptr(),
            data.y.data_ptr(),
            data.total,
            loss[lo].data_ptr(),
            grad[lo].data_ptr(),
        )

    threads = max(1, min(threads or torch.get_num_threads(), models))
    bounds = [models * k // threads for k in range(threads + 1)]
    if threads == 1:
        run(0, models)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, bounds[:-1], bounds[1:]))
    return loss.to(params.dtype), grad.to(params.dtype)
