"""The fixture registry and small helpers shared by the gen_*.py modules."""
import json
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


def write_json(relpath, obj):
    """Writes JSON with floats in shortest round-trip form (float32 values survive exactly)."""
    path = OUT / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
