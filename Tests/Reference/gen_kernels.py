"""Fixtures for the Tensors target: activations, softmax, half-precision rounding, Kaiming bounds, PCG64 stream."""
import math

import numpy as np
import torch

from registry import fixture, write_json


def _f32_list(t):
    return [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


def _edge_inputs(seed):
    """Values where activations and exp are delicate, plus a seeded spread."""
    g = torch.Generator().manual_seed(seed)
    edges = torch.tensor([0.0, -0.0, 1e-8, -1e-8, 1e-3, -1e-3, 0.5, -0.5, 1, -1, 2, -2, 3, -3, 5, -5, 8, -8,
                          10, -10, 15, -15, 20, -20, 30, -30, 50, -50, 80, -80, 87, -87, 88.5, -88.5, 100, -100],
                         dtype=torch.float32)
    spread = torch.randn(500, generator=g, dtype=torch.float32) * 6
    return torch.cat([edges, spread])


@fixture("kernels-activations")
def activations():
    """exp, SiLU, GELU-tanh of float32 inputs, computed by PyTorch (float32 and float64)."""
    x = _edge_inputs(1)
    xd = x.to(torch.float64)
    write_json("kernels/activations.json", {
        "source": f"torch {torch.__version__}: torch.exp, torch.nn.functional.silu, gelu(approximate='tanh')",
        "x": _f32_list(x),
        "exp_f64": [float(v) for v in torch.exp(xd).tolist()],
        "silu_f32": _f32_list(torch.nn.functional.silu(x)),
        "silu_f64": [float(v) for v in torch.nn.functional.silu(xd).tolist()],
        "gelu_tanh_f32": _f32_list(torch.nn.functional.gelu(x, approximate="tanh")),
        "gelu_tanh_f64": [float(v) for v in torch.nn.functional.gelu(xd, approximate="tanh").tolist()],
    })


@fixture("kernels-softmax")
def softmax():
    """Row softmax and log-softmax of [rows, cols] float32 matrices at awkward widths, by PyTorch in float64."""
    cases = []
    g = torch.Generator().manual_seed(2)
    for rows, cols, scale in [(1, 1, 1.0), (3, 7, 3.0), (5, 33, 10.0), (2, 65, 30.0), (4, 301, 5.0), (1, 1000, 50.0)]:
        x = (torch.randn(rows, cols, generator=g) * scale).to(torch.float32)
        if cols >= 7:
            x[0, 1] = float("-inf")  # masked position
        xd = x.to(torch.float64)
        cases.append({
            "rows": rows, "cols": cols, "x": _f32_list(x),
            "softmax": [float(v) for v in torch.softmax(xd, dim=-1).reshape(-1).tolist()],
            "log_softmax": [float(v) for v in torch.log_softmax(xd, dim=-1).reshape(-1).tolist()],
        })
    write_json("kernels/softmax.json", {"source": f"torch {torch.__version__} float64", "cases": cases})


@fixture("kernels-half-precision")
def half_precision():
    """float32 → bfloat16 / float16 rounding by PyTorch, as bit patterns, including ties, subnormals, inf, NaN."""
    g = torch.Generator().manual_seed(3)
    special = torch.tensor([0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 65519.99, 1e5, -1e5, 6.1e-5, 5.96e-8, 2.98e-8,
                            1e-9, 3.4e38, -3.4e38, 1e-40, float("inf"), float("-inf")], dtype=torch.float32)
    # Exact ties for bf16 (low 16 bits 0x8000) with even and odd kept bits, and ties for f16.
    ties_bits = torch.tensor([0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0xBF808000, 0x3F801000, 0x3F803000],
                             dtype=torch.int64).to(torch.int32)
    ties = ties_bits.view(torch.float32)
    spread = torch.cat([torch.randn(300, generator=g) * 10 ** torch.randint(-8, 6, (300,), generator=g).float(),
                        torch.rand(100, generator=g) * 1e-4])
    x = torch.cat([special, ties, spread.to(torch.float32)])
    f32_bits = [int(v) & 0xFFFFFFFF for v in x.view(torch.int32).tolist()]
    bf16 = [int(v) & 0xFFFF for v in x.to(torch.bfloat16).view(torch.int16).tolist()]
    f16 = [int(v) & 0xFFFF for v in x.to(torch.float16).view(torch.int16).tolist()]
    # A NaN: PyTorch keeps it NaN; the payload is not compared.
    write_json("kernels/half_precision.json", {
        "source": f"torch {torch.__version__}: tensor.to(torch.bfloat16 / torch.float16)",
        "f32_bits": f32_bits, "bf16_bits": bf16, "f16_bits": f16,
    })


@fixture("kernels-kaiming")
def kaiming():
    """PyTorch's kaiming_uniform_ bound for several fan-ins and slopes (as PEFT uses for LoRA A, a = sqrt(5))."""
    rows = []
    for fan_in in [1, 3, 7, 48, 576, 1536]:
        for a in [0.0, math.sqrt(5)]:
            gain = torch.nn.init.calculate_gain("leaky_relu", a)
            bound = gain * math.sqrt(3.0 / fan_in)
            w = torch.empty(4096, fan_in)
            torch.nn.init.kaiming_uniform_(w, a=a)
            rows.append({"fan_in": fan_in, "a": a, "bound": bound, "observed_max_abs": float(w.abs().max())})
    write_json("kernels/kaiming.json", {"source": f"torch {torch.__version__}: nn.init.calculate_gain, kaiming_uniform_",
                                        "cases": rows})


@fixture("kernels-pcg64")
def pcg64():
    """Raw 64-bit outputs and doubles of NumPy's PCG64 from fixed (state, inc) pairs."""
    cases = []
    for state, inc in [(0x0123456789ABCDEF_FEDCBA9876543210, 0x0000000000000001_0000000000000001 | 1),
                       (1, 0xDA3E39CB94B95BDB_6A3D6C7A2E4B5F1D | 1),
                       (2 ** 128 - 1, 3)]:
        bg = np.random.PCG64()
        bg.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}
        raw = [int(v) for v in bg.random_raw(64)]
        bg.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}
        doubles = [float(v) for v in np.random.Generator(bg).random(16)]
        # 64-bit words as decimal strings: JSON numbers are doubles to most readers.
        cases.append({"state_hi": str(state >> 64), "state_lo": str(state & (2 ** 64 - 1)), "inc_hi": str(inc >> 64),
                      "inc_lo": str(inc & (2 ** 64 - 1)), "raw": [str(v) for v in raw], "doubles": doubles})
    write_json("kernels/pcg64.json", {"source": f"numpy {np.__version__} PCG64.random_raw / Generator.random",
                                      "cases": cases})
