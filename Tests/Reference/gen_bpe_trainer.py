"""Fixtures for Tokenization's BPETrainer: what HF `tokenizers`' BpeTrainer learns, and how HF encodes with the
bundled base model's tokenizer.

Trainer setup (the one Whittle implements): BPE model, ByteLevel(add_prefix_space=False, use_regex=True)
pre-tokenizer, ByteLevel decoder, BpeTrainer(vocab_size, special_tokens, min_frequency,
initial_alphabet=ByteLevel.alphabet()), trained with train_from_iterator over whole texts (one sequence each).
The fixture keeps HF's tokenizer.json text verbatim; the Swift test compares vocabulary, merges and the text.
"""
import hashlib
import json
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from registry import SHARED, fixture, write_json

REPO = pathlib.Path(__file__).resolve().parents[2]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Small texts with the awkward cases: repeated letters (overlapping pairs), contractions, digits, whitespace runs,
# non-Latin scripts and emoji (multi-byte characters), ChatML markers inside the text.
MIXED = [
    "aaaa aaaa aaa aa a baaaab", "Hello, world! It's 12345 o'clock; they'll say we've done.",
    "   spaces   and\ttabs\n\nnew lines\r\n", "naïve café — déjà vu, Ünïcödé 日本語のテキスト 😀😀 emoji",
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n",
    "The the THE tHe; the cat sat on the mat. The mat was flat.",
] * 3 + ["ababababab abab ab", "xyzzy plugh 0.5 1,000,000 $3.50 100%"]


def gsm8k_texts(limit):
    texts = []
    with open(SHARED / "assets/datasets/gsm8k/test.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            texts.append(r["question"] + "\n" + r["answer"])
            if len(texts) == limit:
                break
    return texts


def train(texts, vocab_size, min_frequency):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def case(texts, vocab_size, min_frequency):
    tok = train(texts, vocab_size, min_frequency)
    text = tok.to_str()
    model = json.loads(text)["model"]
    vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    return {"vocab_size": vocab_size, "min_frequency": min_frequency, "special_tokens": SPECIALS,
            "vocab": [t for t, _ in vocab], "merges": model["merges"], "tokenizer_json": text}


@fixture("bpe_trainer")
def bpe_trainer():
    """HF BpeTrainer vocab + merges on gsm8k test (first 1319 records) and on small mixed texts."""
    gsm = case(gsm8k_texts(1319), 1000, 0)
    gsm["texts"] = {"source": "shared/assets/datasets/gsm8k/test.jsonl", "records": 1319,
                    "join": "question + \"\\n\" + answer"}
    mixed = case(MIXED, 400, 2)
    mixed["texts"] = MIXED
    mixed_all = case(MIXED, 1000, 0)   # runs out of pairs before 1000
    mixed_all["texts"] = MIXED
    write_json("bpe_trainer/hf_bpe_trainer.json", {"gsm8k": gsm, "mixed": mixed, "mixed_exhausted": mixed_all})


ENCODE_STRINGS = [
    "Once upon a time", "Once upon a time, there was a little robot who loved to read.",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "Hello!!! It's 3:45 pm; we'll meet at 221B Baker Street.", "naïve café — 日本語 😀", "   \n\n\t  end",
    "<|endoftext|>The next story begins.", "",
]


@fixture("base_model_tokenizer")
def base_model_tokenizer():
    """HF tokenizers' ids for fixed strings with the committed Checkpoints/whittle-base/tokenizer.json, and the
    sha256 of the tokenizer.json HF's trainer makes from the committed Datasets/general/train.jsonl."""
    folder = REPO / "Checkpoints/whittle-base"
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    cases = [{"text": s, "ids": tok.encode(s).ids} for s in ENCODE_STRINGS]
    texts = [json.loads(line)["text"] for line in open(REPO / "Datasets/general/train.jsonl", encoding="utf-8")]
    vocab_size = tok.get_vocab_size()
    trained = train(texts, vocab_size, 0).to_str()
    committed = (folder / "tokenizer.json").read_text(encoding="utf-8")
    assert trained == committed, "HF's trainer on Datasets/general/train.jsonl differs from the committed tokenizer.json"
    write_json("bpe_trainer/base_model_tokenizer.json", {
        "cases": cases, "vocab_size": vocab_size, "hf_trained_equals_committed": "yes",
        "sha256": hashlib.sha256(committed.encode("utf-8")).hexdigest()})
