"""Tokenizer fixtures: HF `tokenizers` ids for the inputs Whittle's Tokenization tests replay.

Every expected id list here is produced by HF `tokenizers` (or transformers on top of it); none is typed by hand.
Trained tokenizers are deterministic: the corpus is built from fixed files and a seeded generator, and the
BPE trainer is single-threaded over a fixed word order.
"""
import json
import os
import random
import shutil
import tempfile

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

from registry import OUT, SHARED, fixture, write_json  # noqa: E402

ASSETS = SHARED / "assets"
TOK_OUT = "tokenizers"


# MARK: - Inputs

EDGE_CASES = [
    "",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    " \n \n",
    "a",
    "Hello world",
    " Hello world",
    "Hello  world",
    "Hello world!  ",
    "Hello\tworld\n",
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
    "don't DON'T Don'T",
    "3333333 12345678901234567890",
    "1.5 + 2,000 = 2001.5; x=42",
    "café résumé naïve façade — crème brûlée",
    "e\u0301 vs \u00e9 and A\u030a vs \u00c5",
    "ﬁ ﬂ ① ㎏ Ｆｕｌｌｗｉｄｔｈ",
    "日本語のテキストと中文文本",
    "한국어 텍스트입니다",
    "Привет, как дела?",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "🙂 😀😃 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "def f(x):\n    return x ** 2  # square\n\n\n",
    "if (a && b) { return c[i]; }\n\t\tint y = 0;",
    "    leading spaces and trailing spaces    ",
    "mixed\u00a0no-break\u2009thin\u3000ideographic spaces",
    "a\u200bzero width\u200djoiner",
    "\u0000control\u0007chars\u001b[0m",
    "!!!???...,,,;;;:::---___***",
    "''''''```````\"\"\"\"......!!!!!!??????",
    "<s>not special in text</s>",
    "URL https://example.com/path?q=1&r=2#frag",
    "email: someone@example.org",
    "ALL CAPS SENTENCE WITH NUMBERS 123 AND ÜMLAUTS",
    "\u2581already has metaspace \u2581\u2581",
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "The cat sat on the mat.\nThe dog ran in the park.",
    "'S 'T 'Re 'vE 'LL 'D 'M 'ſ 'x ' s",
    "digits: \u0661\u0662\u0663\u0664 \u0665 \u216b \u00bd \u00b2 \u3007 \uff11\uff12 12345",
    "breaks:\u000b\u000c\u0085\u2028\u2029\u00a0 end",
    "tabs\t\t\tand\r\rreturns\r\n\r\n  \n\t x",
    "   \n\n   ",
    "a  b   c    d\n",
    "\U0001d400\U0001d41a math letters and \U0001f600\U0001f3fb skin tone",
    "under_score snake_case __dunder__",
    " \u0301x \u2581\u0301 a\u0301\u0301 combining marks after spaces",
    "canonical singletons: \u212a \u2126 \u212b \uf900 vs K \u03a9 \u00c5 \u8c48",
]

def fuzz_texts(seed=4242, n=150):
    """Random strings over characters chosen to stress the split scanners: every letter/number subcategory,
    combining and enclosing marks, odd spaces and format characters, astral letters/digits, emoji with ZWJ,
    controls, apostrophes and CR/LF mixes."""
    pool = (list("aZ09 '\t\n\r.,!?-_") + ["'s", "'LL", "\r\n", "  ", "\u00a0"] +
            [chr(c) for c in (0x00C0, 0x00DF, 0x01C5, 0x02B0, 0x0300, 0x0301, 0x0345, 0x093E, 0x0903, 0x20DD,
                              0x2000, 0x2009, 0x200B, 0x200D, 0x2028, 0x3000, 0xFEFF, 0xE000, 0x10400, 0x1D7CE,
                              0x2160, 0x00B2, 0x00BD, 0x203F, 0x02C2, 0x00A9, 0x0007, 0x007F, 0x0085, 0x1F600,
                              0x1F469, 0x1F3FD, 0x0663, 0x0E01, 0x0E31, 0x4E00, 0x3042, 0xAC00, 0x05D0, 0x0627,
                              0x017F, 0x212A, 0xFB01, 0xFF21, 0xFF11)])
    rng = random.Random(seed)
    return ["".join(rng.choice(pool) for _ in range(rng.randrange(1, 30))) for _ in range(n)]


STORIES = [
    "Once upon a time, there was a little girl named Lily.",
    "She liked to play with her ball in the park. One day, she saw a big dog.",
    "Tom and Sue were friends. They went to the beach and built a sand castle!",
    "\"Look, Mom!\" said Ben. \"I found a shiny rock.\"",
    "The sun was hot. The bird sang a happy song, and the tree was very tall.",
    "Lily said, \"I am sorry.\" Her mom hugged her and they smiled.",
    "One day, a boy named Timmy went to the store with his dad. He wanted a red toy car.",
    "They played all day and when it was time to go home, they were very tired but happy.",
]


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dataset_texts():
    """Text lines from the shared datasets, in a fixed order."""
    texts = []
    with open(ASSETS / "datasets/gsm8k/train.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            texts.append(r["question"])
            texts.append(r["answer"])
    for r in read_json(ASSETS / "datasets/gpteacher-codegen/codegen-instruct.json"):
        texts.append(r["instruction"])
        if r.get("input"):
            texts.append(r["input"])
        texts.append(r["response"])
    with open(ASSETS / "datasets/wikisql-mlx/train.jsonl", encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
    with open(ASSETS / "datasets/banking77/train.csv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i > 0:
                texts.append(line.rsplit(",", 1)[0].strip('"'))
    for r in read_json(ASSETS / "datasets/glaive-toolcall-sharegpt/glaive_toolcall_en_demo.json"):
        for turn in r["conversations"]:
            texts.append(turn["value"])
    return texts


def random_text(rng, n):
    """Generated lines: numbers, emoji, CJK, other scripts, whitespace runs, tabs, code-like text."""
    ranges = [(0x4E00, 0x4FFF), (0x3041, 0x3096), (0x30A1, 0x30FA), (0xAC00, 0xAD00), (0x0410, 0x044F),
              (0x0627, 0x064A), (0x0905, 0x0939), (0x1F600, 0x1F64F), (0x1F300, 0x1F3FF), (0x00C0, 0x00FF)]
    words = ["the", "value", "return", "int", "x", "foo_bar", "HTTP", "é", "naïve", "über", "ß", "Ω"]
    out = []
    for _ in range(n):
        kind = rng.randrange(7)
        if kind == 0:
            out.append(" ".join(str(rng.randrange(10 ** rng.randrange(1, 12))) for _ in range(rng.randrange(1, 8))))
        elif kind == 1:
            lo, hi = rng.choice(ranges)
            out.append("".join(chr(rng.randrange(lo, hi)) for _ in range(rng.randrange(1, 20))))
        elif kind == 2:
            ws = ["", " ", "  ", "    ", "\t", "\t\t", " \t", "\n", "\n\n", "\r\n"]
            out.append("".join(rng.choice(words) + rng.choice(ws) for _ in range(rng.randrange(2, 12))))
        elif kind == 3:
            name = rng.choice(words)
            out.append(f"def {name}_{rng.randrange(100)}(a, b={rng.random():.3f}):\n    return a * b + {rng.randrange(1000)}\n")
        elif kind == 4:
            out.append(f"{rng.randrange(1, 2030)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
                       f"${rng.randrange(10**6)/100:.2f} {rng.randrange(100)}% #{rng.randrange(10**4)}")
        elif kind == 5:
            lo, hi = rng.choice(ranges)
            out.append(" ".join(rng.choice(words) + chr(rng.randrange(lo, hi)) for _ in range(rng.randrange(1, 6))))
        else:
            out.append("".join(rng.choice("{}[]()<>;:,.!?'\"`~@#$%^&*-+=/\\|_ ") for _ in range(rng.randrange(1, 25))))
    return out


def build_corpus(seed, limit_bytes):
    """Training lines (about limit_bytes of UTF-8) and held-out lines that were not trained on."""
    rng = random.Random(seed)
    texts = dataset_texts()
    rng.shuffle(texts)
    generated = random_text(rng, 6000)
    held_data, train_data = texts[:150], texts[150:]
    held_gen, train_gen = generated[:150], generated[150:]
    lines, size = [], 0
    for t in train_gen + train_data:
        if size >= limit_bytes:
            break
        lines.append(t)
        size += len(t.encode("utf-8"))
    held = [t[:400] for t in held_data] + held_gen
    return lines, held


def cases_for(tok, texts, pair_every=0):
    """Expected ids with and without special tokens, plus HF's decode of the ids (both skip settings)."""
    cases = []
    for text in texts:
        plain = tok.encode(text, add_special_tokens=False).ids
        special = tok.encode(text, add_special_tokens=True).ids
        cases.append({
            "text": text,
            "ids": plain,
            "ids_with_special": special,
            "decoded": tok.decode(special, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(special, skip_special_tokens=True),
        })
    return cases


def pairs_for(tok, texts):
    """Pair encodings (the post-processor's `pair` template) for a few text pairs."""
    chosen = [t for t in texts if t][:12]
    pairs = []
    for a, b in zip(chosen[0::2], chosen[1::2]):
        pairs.append({"a": a, "b": b, "ids": tok.encode(a, b, add_special_tokens=False).ids,
                      "ids_with_special": tok.encode(a, b, add_special_tokens=True).ids})
    return pairs


def write_case_file(name, tokenizer_file, tok, texts, extra=None):
    doc = {"tokenizer": tokenizer_file, "tokenizers_version": __import__("tokenizers").__version__,
           "cases": cases_for(tok, texts), "pairs": pairs_for(tok, texts)}
    if extra:
        doc.update(extra)
    write_json(f"{TOK_OUT}/{name}.json", doc)


def save_tokenizer(tok, name):
    path = OUT / TOK_OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path), pretty=False)
    return path


# MARK: - Fixtures

@fixture("tokenizers/gpt2")
def gpt2_cases():
    """GPT-2 tokenizer.json from ../shared: ids for edge cases and story lines, with decodes."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(ASSETS / "tokenizers/gpt2/tokenizer.json"))
    texts = EDGE_CASES + STORIES + ["<|endoftext|>", "text<|endoftext|>more", " <|endoftext|> spaced "] + fuzz_texts()
    write_case_file("gpt2_cases", "../shared/assets/tokenizers/gpt2/tokenizer.json", tok, texts)


def stories_inputs():
    rng = random.Random(260)
    texts = list(STORIES) + EDGE_CASES
    texts += ["<s>Once upon a time</s> there was", "Hello<unk>world", "  two leading", "trailing  "]
    # Recombined story sentences, the kind of text stories260K was trained on.
    words = " ".join(STORIES).split()
    for _ in range(60):
        start = rng.randrange(len(words) - 12)
        texts.append(" ".join(words[start:start + rng.randrange(2, 12)]))
    return texts


@fixture("tokenizers/tok512")
def tok512():
    """stories260K tok512.model converted by transformers (LlamaTokenizer, BOS on), plus ids for stories-like text."""
    from tokenizers import Tokenizer
    from transformers import LlamaTokenizer
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(ASSETS / "models/stories260K/tok512.model", os.path.join(tmp, "tokenizer.model"))
        hf = LlamaTokenizer.from_pretrained(tmp, add_bos_token=True, add_eos_token=False)
        tok = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    finally:
        shutil.rmtree(tmp)
    save_tokenizer(tok, "tok512.tokenizer.json")
    write_case_file("tok512_cases", "tok512.tokenizer.json", tok, stories_inputs())

    # The older hub form of the same vocabulary: normalizer Sequence[Prepend("▁"), Replace(" ","▁")], no pre-tokenizer.
    doc = json.loads(tok.to_str())
    doc["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
    doc["pre_tokenizer"] = None
    legacy = Tokenizer.from_str(json.dumps(doc))
    save_tokenizer(legacy, "tok512_legacy.tokenizer.json")
    write_case_file("tok512_legacy_cases", "tok512_legacy.tokenizer.json", legacy, stories_inputs())


def train_bpe(name, corpus, vocab_size, special, configure, post=None, json_fix=None):
    from tokenizers import Tokenizer, trainers
    tok = configure()
    trainer_kwargs = dict(vocab_size=vocab_size, min_frequency=2, special_tokens=special, show_progress=False)
    if name.startswith("bytelevel"):
        from tokenizers import pre_tokenizers
        trainer_kwargs["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(**trainer_kwargs)
    tok.train_from_iterator(corpus, trainer=trainer)
    if post:
        post(tok)
    if json_fix:
        doc = json.loads(tok.to_str())
        json_fix(doc)
        tok = Tokenizer.from_str(json.dumps(doc))
    # Round-trip through JSON so the saved file is exactly what the test reads.
    path = save_tokenizer(tok, f"{name}.tokenizer.json")
    return Tokenizer.from_file(str(path))


SPECIAL_TEXTS = [
    "<THINK> hi <Think>",
    "x<think>y",
    "cafe\u0301 au lait, café",
    "<|begin_of_text|>Hello<|end_of_text|>",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
    "before <tool> after",
    "before<tool>after",
    "word <tool>",
    "x<tool>",
    "_<tool> <tool>_ \u00e9<tool> <tool>",
    "<tool>",
    "  <tool>  ",
    "\t<tool>\n<tool>",
    "<|im_start|><|im_end|><|im_start|>",
    "<|im_start|",
]


@fixture("tokenizers/trained")
def trained():
    """Byte-level BPEs (Llama-3 regex; Qwen2 regex + NFC; NFKC + Lowercase + Digits + GPT-2 regex) and a Metaspace BPE, trained here."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    corpus, held = build_corpus(seed=20261125, limit_bytes=2_000_000)
    texts = held + EDGE_CASES + SPECIAL_TEXTS + fuzz_texts()

    llama3_re = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    qwen2_re = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

    def bytelevel(pattern, normalizer=None, ignore_merges=False):
        def configure():
            tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
            if normalizer is not None:
                tok.normalizer = normalizer
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
            tok.decoder = decoders.ByteLevel()
            return tok
        return configure

    def add_chat_tokens(tok, bos):
        tok.add_special_tokens([AddedToken("<|im_start|>", special=True, normalized=False),
                                AddedToken("<|im_end|>", special=True, normalized=False)])
        tok.add_tokens([AddedToken("<tool>", lstrip=True, rstrip=True, normalized=False, special=False)])
        if bos:
            bos_id = tok.token_to_id(bos)
            tok.post_processor = processors.Sequence([
                processors.ByteLevel(trim_offsets=False),
                processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                              special_tokens=[(bos, bos_id)])])

    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    tok = train_bpe("bytelevel_llama3", corpus, 3000, specials, bytelevel(llama3_re, ignore_merges=True),
                    post=lambda t: add_chat_tokens(t, "<|begin_of_text|>"))
    write_case_file("bytelevel_llama3_cases", "bytelevel_llama3.tokenizer.json", tok, texts)

    def qwen2_post(tok):
        add_chat_tokens(tok, None)
        # A normalized added token: matched after NFC, so "cafe\u0301" finds it too.
        tok.add_tokens([AddedToken("café", normalized=True, special=False)])
    tok = train_bpe("bytelevel_qwen2", corpus, 3000, ["<|endoftext|>"], bytelevel(qwen2_re, normalizers.NFC()),
                    post=qwen2_post)
    write_case_file("bytelevel_qwen2_cases", "bytelevel_qwen2.tokenizer.json", tok, texts)

    def smollm():
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
        tok.decoder = decoders.ByteLevel()
        return tok
    def digits_post(tok):
        tok.post_processor = processors.ByteLevel(trim_offsets=True)
        # Normalized added token: its content is lowercased like the text, so "<THINK>" matches.
        tok.add_tokens([AddedToken("<Think>", normalized=True, special=False)])
    tok = train_bpe("bytelevel_digits", corpus, 2500, ["<|endoftext|>"], smollm,
                    post=digits_post)
    write_case_file("bytelevel_digits_cases", "bytelevel_digits.tokenizer.json", tok, texts)

    def metaspace():
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
        return tok

    def metaspace_post(tok):
        tok.add_special_tokens([AddedToken("<|im_start|>", special=True, normalized=False),
                                AddedToken("<|im_end|>", special=True, normalized=False)])
        tok.add_tokens([AddedToken("<tool>", single_word=True, normalized=False, special=False)])
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
            special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])

    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]

    def drop_byte_added_tokens(doc):
        # Byte pieces are ordinary vocabulary in Llama-style files, not added tokens.
        doc["added_tokens"] = [t for t in doc["added_tokens"] if t["content"] not in byte_tokens]

    tok = train_bpe("metaspace", corpus, 3000, ["<unk>", "<s>", "</s>"] + byte_tokens, metaspace, post=metaspace_post,
                    json_fix=drop_byte_added_tokens)
    write_case_file("metaspace_cases", "metaspace.tokenizer.json", tok, texts + ["<s> in text", "x <unk> y"])


@fixture("tokenizers/variants")
def variants():
    """Split behaviours/invert, Metaspace schemes, Digits and normalizers, each swapped into a trained tokenizer."""
    from tokenizers import Tokenizer

    gpt2_re = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
    llama3_re = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    overrides = []
    for pattern in [{"String": " "}, {"String": "in"}, {"Regex": gpt2_re}, {"Regex": llama3_re}]:
        for behavior in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
            for invert in [False, True]:
                split = {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}
                overrides.append(("bytelevel_digits.tokenizer.json",
                                  {"normalizer": None, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split, byte_level]}}))
    overrides.append(("bytelevel_digits.tokenizer.json", {"normalizer": None, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": False}, byte_level]}}))
    for scheme in ["first", "always", "never"]:
        for split in [False, True]:
            meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": split}
            overrides.append(("metaspace.tokenizer.json", {"pre_tokenizer": meta, "decoder": meta}))
    normalizers_to_try = [
        {"type": "Strip", "strip_left": True, "strip_right": False},
        {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "NFD"}, {"type": "NFKD"}, {"type": "NFKC"}, {"type": "Lowercase"},
        {"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"String": "  "}, "content": "\t"},
                                             {"type": "Prepend", "prepend": ">>"}]},
    ]
    for n in normalizers_to_try:
        overrides.append(("metaspace.tokenizer.json", {"normalizer": n}))

    rng = random.Random(77)
    texts = [t for t in EDGE_CASES if t] + SPECIAL_TEXTS + [t[:200] for t in rng.sample(dataset_texts(), 8)]
    out = []
    for base, override in overrides:
        doc = json.loads((OUT / TOK_OUT / base).read_text(encoding="utf-8"))
        doc.update(override)
        tok = Tokenizer.from_str(json.dumps(doc))
        ids = [tok.encode(t, add_special_tokens=False).ids for t in texts]
        variant = {"base": base, "override": override, "ids": ids}
        if "decoder" in override:
            variant["decoded"] = [tok.decode(i) for i in ids]
        out.append(variant)
    write_json(f"{TOK_OUT}/variants.json", {"tokenizers_version": __import__("tokenizers").__version__,
                                            "texts": texts, "variants": out})
