"""Fixtures for FileSupport: SHA-256 digests by Python's hashlib."""
import hashlib

from registry import fixture, write_json


def pattern(n):
    """The test input rule shared with the Swift test: byte i is (i·31 + 7) mod 256."""
    return bytes((i * 31 + 7) % 256 for i in range(n))


@fixture("sha256")
def sha256():
    """SHA-256 of strings at block-boundary lengths and of pattern buffers up to 3 MB."""
    texts = ["", "abc", "a" * 55, "a" * 56, "a" * 63, "a" * 64, "a" * 65, "a" * 119, "a" * 128,
             "héllo wörld ✓ 😀", "The quick brown fox jumps over the lazy dog"]
    cases = [{"text": t, "hex": hashlib.sha256(t.encode("utf-8")).hexdigest()} for t in texts]
    patterns = [{"length": n, "hex": hashlib.sha256(pattern(n)).hexdigest()} for n in [1, 64, 1000, 65537, 3_000_001]]
    write_json("files/sha256.json", {"source": "python hashlib.sha256", "texts": cases, "patterns": patterns})
