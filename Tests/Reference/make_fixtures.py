#!/usr/bin/env python3
"""Writes the reference fixtures Whittle's tests read (Tests/Reference/fixtures/...).

Every fixture is made by a library no one here wrote (PyTorch, transformers, peft, tokenizers, jinja2, gguf-py)
from inputs fixed in this code (per-fixture seeds), so running it again rewrites the same files.

    python make_fixtures.py              # every fixture
    python make_fixtures.py --only NAME  # one fixture (repeatable)
    python make_fixtures.py --list

Fixtures are defined in the gen_*.py modules beside this file, one function per fixture, registered with
@fixture("name"). Each has a row in README.md: what it is, how it was made, which test reads it.
CI never runs this script; it only reads the committed fixtures.
"""
import argparse
import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from registry import FIXTURES  # noqa: E402


def load_modules():
    for path in sorted(HERE.glob("gen_*.py")):
        importlib.import_module(path.stem)


def main():
    load_modules()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help="fixture name (repeatable)")
    parser.add_argument("--list", action="store_true", help="list fixture names and exit")
    args = parser.parse_args()
    if args.list:
        for name, fn in sorted(FIXTURES.items()):
            print(f"{name}\t{(fn.__doc__ or '').strip().splitlines()[0] if fn.__doc__ else ''}")
        return
    unknown = [n for n in args.only if n not in FIXTURES]
    if unknown:
        sys.exit(f"unknown fixture(s): {', '.join(unknown)}; known: {', '.join(sorted(FIXTURES))}")
    for name in args.only or sorted(FIXTURES):
        print(f"fixture {name} ...", flush=True)
        FIXTURES[name]()


if __name__ == "__main__":
    main()
