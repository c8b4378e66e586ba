"""The fixture registry and small helpers shared by the gen_*.py modules."""
import json
import math
import pathlib

FIXTURES = {}
OUT = pathlib.Path(__file__).resolve().parent / "fixtures"
SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"


def fixture(name):
    """Registers a function that writes one fixture."""
    def register(fn):
        if name in FIXTURES:
            raise ValueError(f"fixture {name} registered twice")
        FIXTURES[name] = fn
        return fn
    return register


def _finite_json(obj):
    """JSON has no inf/NaN: write them as the strings "Infinity", "-Infinity", "NaN" (the Swift loaders accept both)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    return obj


def write_json(relpath, obj):
    """Writes JSON with floats in shortest round-trip form (float32 values survive exactly); inf/NaN as strings."""
    obj = _finite_json(obj)
    path = OUT / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
