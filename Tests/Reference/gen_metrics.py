"""Fixtures for Evaluation's task metrics and paired bootstrap (Sources/Evaluation/Metrics).

References, none written here:
- ROUGE-L: rouge-score (pinned in requirements.txt), `rouge_scorer.RougeScorer(["rougeL"])` (default tokenizer,
  no stemmer), `score(target=reference, prediction=prediction)["rougeL"].fmeasure`.
- Exact match and token F1: the official SQuAD v1.1 evaluation script's `normalize_answer`, `f1_score`,
  `exact_match_score`, inlined below verbatim (https://rajpurkar.github.io/SQuAD-explorer/ → evaluate-v1.1.py; the
  same functions are the `evaluate` package's `metrics/squad/compute_score.py`). Not a pip dependency: the script is
  not packaged, and `evaluate` would pull in `datasets` for four functions.
- Numeric answers: lm-evaluation-harness's GSM8K extraction (lm_eval/tasks/gsm8k/gsm8k.yaml filter_list and
  lm_eval/filters/extraction.py `RegexFilter`): strict `#### (\\-?[0-9\\.\\,]+)` first match, flexible
  `(-?[$0-9.,]{2,})|(-?[0-9]+)` last match (group_select -1, first non-empty group, stripped); both raw outputs are
  stored. Whittle's canonical answer (strip "$" ",", trailing ".", compare as decimals) is computed with Python's
  `decimal.Decimal`; Whittle skips digit-free flexible matches, lm-eval does not (the fixture records both).
- JSON validity: Python's `json.loads(text.strip())`, with `parse_constant` raising so NaN / Infinity / -Infinity
  are rejected as RFC 8259 requires (Python accepts them by default; `python_default` records that too).
- Regex: Python's `re.search(pattern, text) is not None`, on patterns whose syntax ICU (NSRegularExpression) and
  Python's `re` read alike.
- Bootstrap: NumPy's `Generator(PCG64)` with the state Whittle's `RandomGenerator(seed:)` derives (SplitMix64,
  reimplemented below), `rng.integers(0, n, size=n)` per resample, left-to-right Python sums (NumPy's pairwise
  `mean` would differ from a plain loop in the last bits), `np.quantile(stats, [a, 1 - a])` with the default
  linear method.
"""
import importlib.metadata
import json
import random
import re
import string
from collections import Counter
from decimal import Decimal

import numpy as np
from rouge_score import rouge_scorer

from registry import fixture, write_json


# MARK: - Official SQuAD v1.1 evaluation (evaluate-v1.1.py), verbatim

def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score(prediction, ground_truth):
    return (normalize_answer(prediction) == normalize_answer(ground_truth))


# MARK: - Text metric cases

PAIRS = [
    ("Paris", "Paris"),
    ("paris.", "Paris"),
    ("The Eiffel Tower", "Eiffel tower"),
    ("an apple a day", "apple day"),
    ("theatre", "the atre"),
    ("Answer: the cat sat on the mat", "The cat is on the mat"),
    ("", ""),
    ("", "something"),
    ("something", ""),
    ("   ", "..."),
    ("A", "a"),
    ("a an the", ""),
    ("the the the cat", "cat the"),
    ("New York City", "new york"),
    ("I love New York!", "new york"),
    ("42", "4"),
    ("The answer is 1,234.", "1234"),
    ("1,234", "1 234"),
    ("-3.5 degrees", "−3.5 degrees"),
    ("It's a well-known fact.", "its a wellknown fact"),
    ("rock'n'roll", "rocknroll"),
    ("don't stop", "do not stop"),
    ("café au lait", "Café au lait"),
    ("CAFÉ", "café"),
    ("naïve résumé", "naive resume"),
    ("e\u0301a the\u0301 a\u0301", "é a the"),
    ("Straße", "STRASSE"),
    ("İstanbul", "i̇stanbul"),
    ("ΟΔΟΣ", "οδος"),
    ("ΟΔΟΣ ΣΑΣ", "οδος σας"),
    ("Σ", "σ"),
    ("KELVIN \u212a", "kelvin k"),
    ("東京 は 日本 の 首都 です", "東京"),
    ("東京は日本の首都です", "東京は日本の首都です"),
    ("Привет, мир! Это тест.", "привет мир это тест"),
    ("مرحبا بالعالم", "مرحبا"),
    ("emoji 😀 party 🎉", "emoji party"),
    ("😀", "😀"),
    ("tab\tseparated\twords", "tab separated words"),
    ("line one\nline two\n\nline three", "line one line two line three"),
    ("multi\r\nline\u2028text\u00a0here\u3000too", "multi line text here too"),
    ("zero\u200bwidth", "zerowidth"),
    ("file\x1cseparator", "file separator"),
    ("under_score a_b", "underscore ab"),
    ("a_the the_a", "athe thea"),
    ("«quoted» “curly” ‘single’", "quoted curly single"),
    ("¿Qué? ¡Sí!", "qué sí"),
    ("x² + y³ = z½", "x2 y3 z"),
    ("Ⅻ o'clock", "ⅻ oclock"),
    ("The quick brown fox jumps over the lazy dog", "A quick brown dog jumps over the lazy fox"),
    ("police killed the gunman", "the gunman kill police"),
    ("the cat was found under the bed", "the cat was under the bed"),
    ("SELECT name FROM users WHERE id = 3;", "select name from users where id=3"),
    ("{\"a\": 1}", "{'a': 1}"),
    ("price: $12.00", "$12"),
    ("12.0", "12"),
    ("one two three four five six seven eight nine ten", "ten nine eight seven six five four three two one"),
    ("a b c d e f g", "a c e g b d f"),
    ("repeat repeat repeat", "repeat"),
    ("repeat", "repeat repeat repeat"),
    ("Hello, World", "hello world!"),
    ("hello-world", "hello world"),
    ("hello—world", "hello world"),
    ("1.5e10 and 3/4", "1.5e10 3/4"),
    ("Über 9000", "über 9000"),
    ("ǅemal", "ǆemal"),
    ("ﬁne ﬂour", "fine flour"),
    ("Mr. Smith's car", "mr smiths car"),
    ("\u0130I\u0131i", "i\u0307iıi"),
]

# Seeded fuzz over words that stress normalisation and tokenisation.
FUZZ_WORDS = ["the", "The", "a", "an", "An", "cat", "Cat's", "dog,", "(dog)", "new-york", "York", "42", "4,2",
              "3.14", "-7", "$5", "café", "CAFÉ", "Σίσυφος", "ΟΔΟΣ", "東京", "😀", "_", "__init__", "a_b", "...",
              "!?", "İ", "ß", "ﬁ", "x²", "½", "\u00a0", "\t", "\n", "  ", "e\u0301", "Ⅻ", "don't", "it's", "“hi”"]


def fuzz_pairs(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        def text():
            return " ".join(rng.choice(FUZZ_WORDS) for _ in range(rng.randint(0, 9)))
        a = text()
        b = text() if rng.random() < 0.6 else " ".join(w for w in a.split(" ") if rng.random() < 0.7)
        out.append((a, b))
    return out


def contains_reference(prediction, reference):
    """Whittle's `contains`: the normalised reference's tokens occur as a contiguous run in the prediction's."""
    p, r = normalize_answer(prediction).split(), normalize_answer(reference).split()
    return True if not r else any(p[i:i + len(r)] == r for i in range(len(p) - len(r) + 1))


@fixture("metrics-text")
def metrics_text():
    """SQuAD normalisation / EM / token F1 (official v1.1 functions) and ROUGE-L (rouge-score) on ~270 pairs."""
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rows = []
    for prediction, reference in PAIRS + fuzz_pairs(200, seed=20261125):
        rows.append({
            "prediction": prediction,
            "reference": reference,
            "normalized_prediction": normalize_answer(prediction),
            "normalized_reference": normalize_answer(reference),
            "exact_match": 1.0 if exact_match_score(prediction, reference) else 0.0,
            "token_f1": float(f1_score(prediction, reference)),
            "contains": 1.0 if contains_reference(prediction, reference) else 0.0,
            "rouge_tokens_prediction": scorer._tokenizer.tokenize(prediction),
            "rouge_l": scorer.score(reference, prediction)["rougeL"].fmeasure,
        })
    write_json("metrics/text.json", {
        "source": f"official SQuAD v1.1 evaluate-v1.1.py functions (inlined); rouge-score {importlib.metadata.version('rouge-score')} RougeScorer(['rougeL'])",
        "cases": rows})


# MARK: - Numbers (lm-eval GSM8K)

STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def regex_filter(regex, text, group_select):
    """lm-eval's RegexFilter.apply for one response."""
    match = regex.findall(text)
    if match:
        match = match[group_select]
        if isinstance(match, tuple):
            match = [m for m in match if m][0]
        return match.strip()
    return "[invalid]"


def canonical(raw):
    s = raw.replace("$", "").replace(",", "").rstrip(".")
    if not re.fullmatch(r"-?[0-9]*\.?[0-9]*", s) or not re.search(r"[0-9]", s):
        return None
    d = Decimal(s)
    return "0" if d == 0 else format(d.normalize(), "f")


def whittle_answer(text):
    strict = regex_filter(STRICT, text, 0)
    if strict != "[invalid]" and canonical(strict) is not None:
        return canonical(strict)
    for groups in reversed(FLEXIBLE.findall(text)):
        m = [g for g in groups if g][0].strip()
        if re.search(r"[0-9]", m):
            return canonical(m)
    return None


NUMBER_TEXTS = [
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
    "#### 1,234", "#### -5", "#### 3.50", "#### 0.0", "#### -0", "#### 007", "#### 1,000,000.",
    "The answer is 42.", "The answer is 42...", "It is 42. Done...", "I think it's $1,234.56 in total.",
    "He has -3 apples and then 5 more, so 2", "12.0", "12", "-12.000", ".5", "-.5", "0.50", "5.", "1.2.3",
    "$", "no numbers here", "", "....", "1,2,3", "Total: $ 45", "answer: -$7", "score 3/4", "1e5",
    "First #### 10 then #### 20", "#### twelve, so 12", "####7", "#### .25", "line1\nline2 99\n", "x = 3, y = 4,",
    "−5 (unicode minus)", "２３ full-width", "١٢٣ arabic-indic", "costs $0.99 or 99 cents", "3,000 people and 2",
    "The result is 18.\n\nQuestion: what is 5+5?", "100%", "Version 1.2.3.4 released", "-", "--5", "-$-5",
    "#### $5", "#### 5 then 6",
]


@fixture("metrics-numbers")
def metrics_numbers():
    """GSM8K answers: lm-eval's strict and flexible extraction outputs and Whittle's canonical decimal."""
    rows = [{"text": t, "lm_eval_strict": regex_filter(STRICT, t, 0), "lm_eval_flexible": regex_filter(FLEXIBLE, t, -1),
             "answer": whittle_answer(t)} for t in NUMBER_TEXTS]
    write_json("metrics/numbers.json", {"source": "lm-evaluation-harness gsm8k.yaml strict-match / flexible-extract "
                                                  "RegexFilter; canonical form by decimal.Decimal", "cases": rows})


# MARK: - JSON validity

JSON_TEXTS = [
    "{}", "[]", "{\"a\": 1}", " {\"a\": [1, 2, {\"b\": null}]} ", "\n\t[true, false, null]\r\n", "\"just a string\"",
    "42", "-0", "-0.0e+0", "1.5E10", "1e400", "0.1", "01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "1_000",
    "NaN", "Infinity", "-Infinity", "[NaN]", "{\"x\": Infinity}", "nan", "true", "True", "null", "nul", "none",
    "", "   ", "{", "}", "[1, 2,]", "{\"a\": 1,}", "[1 2]", "{\"a\" 1}", "{a: 1}", "{'a': 1}", "{\"a\": 1}}",
    "{\"a\": 1} {\"b\": 2}", "[1][2]", "\"unterminated", "\"tab\there\"", "\"tab\\there\"", "\"nl\nhere\"",
    "\"\\u00e9\\uD83D\\uDE00\"", "\"\\ud800\"", "\"\\u12\"", "\"\\x41\"", "\"\\/\"", "\"\\'\"", "\"é 東京 😀\"",
    "[[[[[[[[[[]]]]]]]]]]", "[[[[[[[[[[]]]]]]]]]", "{\"a\":{\"b\":{\"c\":[1,{\"d\":\"e\"}]}}}",
    "{\"dup\": 1, \"dup\": 2}", "\u00a0{}\u00a0", "\u3000[1]\u2028", "\ufeff{}", "\v{}\f", "{}\x00",
    "```json\n{\"a\": 1}\n```", "Sure! {\"a\": 1}", "{\"a\": 1} // comment", "[1, 2, 3]\n\nThat's the list.",
    "{\"key\": \"value with \\\"escaped\\\" quotes\"}", "{\"n\": -12.5e-3, \"b\": [true, false], \"z\": null}",
    "\"\\u0000\"", "\"\x7f\"", "{\"a\": [}", "[\"a\" , \"b\" ]", "{ }", "[ ]", "{\"\":\"\"}", "0", "-01", "2.e3",
]


def strict_json(text):
    def reject(name):
        raise ValueError(f"non-RFC constant {name}")
    try:
        json.loads(text.strip(), parse_constant=reject)
        return True
    except (ValueError, RecursionError):
        return False


def default_json(text):
    try:
        json.loads(text.strip())
        return True
    except (ValueError, RecursionError):
        return False


@fixture("metrics-json")
def metrics_json():
    """json_valid: Python json.loads(text.strip()) with NaN/Infinity rejected (and Python's default beside it)."""
    rows = [{"text": t, "valid": strict_json(t), "python_default": default_json(t)} for t in JSON_TEXTS]
    write_json("metrics/json.json", {"source": "Python json.loads(text.strip(), parse_constant=raise)", "cases": rows})


# MARK: - JSON fields

def json_equal(a, b):
    """Equal by JSON type and value: numbers by value, booleans are not numbers, objects ignore key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def strict_loads(text):
    def reject(name):
        raise ValueError(f"non-RFC constant {name}")
    return json.loads(text.strip(), parse_constant=reject)


def json_fields(prediction, reference):
    ref = strict_loads(reference)
    assert isinstance(ref, dict)
    try:
        pred = strict_loads(prediction)
    except (ValueError, RecursionError):
        return 0.0
    if not isinstance(pred, dict):
        return 0.0
    if not ref:
        return 1.0
    return sum(1 for k in ref if k in pred and json_equal(pred[k], ref[k])) / len(ref)


ORDER = ' {"item": "mug", "quantity": 3, "size": "large", "color": "red", "city": "York", "shipping": "express"}'
JSON_FIELD_CASES = [
    (ORDER, ORDER),
    (ORDER.replace('"York"', '"Leeds"'), ORDER),
    (ORDER.replace('"York"', '"york"').replace('"red"', '"blue"'), ORDER),
    (ORDER.replace("3", "3.0"), ORDER),
    (ORDER.replace("3", '"3"'), ORDER),
    ('{"shipping": "express", "city": "York", "color": "red", "size": "large", "quantity": 3, "item": "mug"}', ORDER),
    ('{"item": "mug", "quantity": 3}', ORDER),
    ('{"item": "mug", "quantity": 3, "extra": 1, "size": "large"}', ORDER),
    ('{"item": "pen", "item": "mug"}', ORDER),
    ('{"item": "mug", "item": "pen"}', ORDER),
    (ORDER[:-1], ORDER),
    ('', ORDER),
    ('[1, 2]', ORDER),
    ('"mug"', ORDER),
    ('{"item": "mug"} trailing', ORDER),
    ('{"item": NaN}', '{"item": 1}'),
    ('{"a": true}', '{"a": 1}'),
    ('{"a": 1}', '{"a": true}'),
    ('{"a": false}', '{"a": false}'),
    ('{"a": null}', '{"a": null}'),
    ('{"a": 0}', '{"a": null}'),
    ('{"a": [1, 2.0, "x"]}', '{"a": [1.0, 2, "x"]}'),
    ('{"a": [1, 2]}', '{"a": [2, 1]}'),
    ('{"a": {"y": 2, "x": 1}}', '{"a": {"x": 1, "y": 2}}'),
    ('{"a": {"x": 1}}', '{"a": {"x": 1, "y": 2}}'),
    ('{"a": 1e2, "b": -0.0, "c": 12345678901234}', '{"a": 100, "b": 0, "c": 12345678901234}'),
    ('{"a": "\\u00e9", "b": "caf\u00e9"}', '{"a": "\\u00e9", "b": "caf\u00e9"}'),
    ('{"k": "\u00e9"}', '{"k": "e\u0301"}'),
    ('{"\u00e9": 1, "e\u0301": 2}', '{"e\u0301": 2, "\u00e9": 1}'),
    ('{"\u00e9": 2}', '{"e\u0301": 2}'),
    ('{"x": 1}', '{}'),
    ('[]', '{}'),
    ('\n\t {"a": 1}  \n', '  {"a": 1, "b": 2}'),
]


@fixture("metrics-json-fields")
def metrics_json_fields():
    """json_fields: share of the reference object's keys the prediction has with an equal value (defined here)."""
    rows = [{"prediction": p, "reference": r, "score": json_fields(p, r)} for p, r in JSON_FIELD_CASES]
    write_json("metrics/json_fields.json", {"source": "json_fields() in gen_metrics.py over Python json.loads",
                                            "cases": rows})


# MARK: - Regex

REGEX_CASES = [
    (r"^SELECT .*$", ["SELECT * FROM t", "select * from t", " SELECT x", "SELECT x\n", "SELECT x\nFROM y", "SELECT"]),
    (r"\d{3}-\d{4}", ["call 555-1234 now", "55-1234", "5551234", "١٢٣-٤٥٦٧"]),
    (r"^\s*\{.*\}\s*$", ["{\"a\": 1}", "  {} ", "x {}", "{\n}"]),
    (r"(?i)yes|no", ["YES", "Nope", "maybe", "I said no."]),
    (r"colou?r", ["color", "colour", "colr"]),
    (r"\bcat\b", ["the cat sat", "concatenate", "cat", "cats"]),
    (r"^$", ["", "\n", " "]),
    (r"a.c", ["abc", "a\nc", "ac"]),
    (r"(?s)a.c", ["a\nc"]),
    (r"(?m)^b$", ["a\nb\nc", "ab"]),
    (r"[A-Z][a-z]+ [A-Z][a-z]+", ["John Smith", "john smith", "Mary Ann Lee"]),
    (r"é+", ["café", "cafe", "cafe\u0301"]),
    (r"東京", ["東京は", "京東"]),
    (r"\$\d+(\.\d\d)?", ["$12.50", "$12", "12$"]),
    (r"x{2,3}", ["x", "xx", "axxxb"]),
    (r"(ab)+c", ["ababc", "ac"]),
    (r"^(?:true|false)$", ["true", "false", "True", "truee"]),
    (r"\w+@\w+\.com", ["mail bob@example.com", "bob@example.org"]),
]


@fixture("metrics-regex")
def metrics_regex():
    """regex metric: re.search(pattern, text) on patterns ICU and Python read alike."""
    rows = [{"pattern": p, "text": t, "match": re.search(p, t) is not None} for p, texts in REGEX_CASES for t in texts]
    write_json("metrics/regex.json", {"source": "Python re.search", "cases": rows})


# MARK: - Bootstrap

MASK = (1 << 64) - 1


def whittle_generator(seed):
    """NumPy Generator(PCG64) in the state `RandomGenerator(seed:)` derives (SplitMix64 → state, increment | 1)."""
    sm, words = seed, []
    for _ in range(4):
        sm = (sm + 0x9E3779B97F4A7C15) & MASK
        z = sm
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        words.append(z ^ (z >> 31))
    bit_generator = np.random.PCG64()
    bit_generator.state = {"bit_generator": "PCG64", "state": {"state": words[0] << 64 | words[1],
                                                               "inc": (words[2] << 64 | words[3]) | 1},
                           "has_uint32": 0, "uinteger": 0}
    return np.random.Generator(bit_generator)


def bootstrap(n, statistic, resamples, confidence, seed):
    rng = whittle_generator(seed)
    first, stats = [], []
    for r in range(resamples):
        idx = [int(i) for i in rng.integers(0, n, size=n)]
        if r < 3:
            first.append(idx)
        stats.append(statistic(idx))
    a = (1 - confidence) / 2
    low, high = (float(x) for x in np.quantile(np.array(stats), [a, 1 - a]))
    return {"difference": statistic(list(range(n))), "low": low, "high": high, "significant": low > 0 or high < 0,
            "first_indices": first, "first_stats": stats[:5]}


def mean_difference(base, model):
    n = len(base)

    def statistic(idx):
        b = m = 0.0
        for i in idx:
            b += base[i]
            m += model[i]
        return m / n - b / n
    return statistic


def loss_difference(base, model):
    def statistic(idx):
        bl = ml = 0.0
        bt = mt = 0
        for i in idx:
            bl += base[i][0]
            bt += base[i][1]
            ml += model[i][0]
            mt += model[i][1]
        return (ml / mt if mt else 0.0) - (bl / bt if bt else 0.0)
    return statistic


@fixture("metrics-bootstrap")
def metrics_bootstrap():
    """Paired percentile bootstrap intervals with NumPy's PCG64 integers and np.quantile (linear)."""
    g = np.random.default_rng(20261125)
    mean_cases = []

    def add_mean(name, base, model, resamples, confidence, seed):
        base, model = [float(x) for x in base], [float(x) for x in model]
        out = bootstrap(len(base), mean_difference(base, model), resamples, confidence, seed)
        mean_cases.append({"name": name, "base": base, "model": model, "resamples": resamples,
                           "confidence": confidence, "seed": seed, **out})

    add_mean("binary n=37, adapter better", g.random(37) < 0.3, g.random(37) < 0.7, 2000, 0.95, 0)
    add_mean("fractions n=50, small effect", g.random(50), np.clip(g.random(50) + 0.05, 0, 1), 1000, 0.9, 7)
    add_mean("binary n=200, adapter worse", g.random(200) < 0.6, g.random(200) < 0.45, 2000, 0.95, 42)
    add_mean("tiny n=5", [0, 1, 0, 1, 1], [1, 1, 0, 1, 0], 333, 0.99, 123456789)
    add_mean("single example", [0.25], [0.75], 10, 0.95, 1)
    add_mean("n=3 (rejection threshold 1)", [0.1, 0.5, 0.9], [0.3, 0.2, 1.0], 500, 0.8, 2 ** 52 + 5)  # seeds stay below 2**53 (JSON numbers are doubles)
    add_mean("n=1000 ROUGE-like", g.random(1000) * 0.6, g.random(1000) * 0.7, 300, 0.95, 99)

    loss_cases = []

    def add_loss(name, base, model, resamples, confidence, seed):
        out = bootstrap(len(base), loss_difference(base, model), resamples, confidence, seed)
        loss_cases.append({"name": name, "base": [{"loss_sum": l, "tokens": t} for l, t in base],
                           "model": [{"loss_sum": l, "tokens": t} for l, t in model], "resamples": resamples,
                           "confidence": confidence, "seed": seed, **out})

    tokens = [int(t) for t in g.integers(1, 41, size=23)]
    base = [(float(t * g.uniform(1.5, 3.0)), t) for t in tokens]
    model = [(float(t * g.uniform(0.5, 2.0)), t) for t in tokens]
    add_loss("n=23 adapter lowers loss", base, model, 2000, 0.95, 3)
    tokens = [int(t) for t in g.integers(0, 6, size=11)]
    base = [(float(t * g.uniform(2.0, 2.5)) if t else 0.0, t) for t in tokens]
    model = [(float(t * g.uniform(2.0, 2.6)) if t else 0.0, t) for t in tokens]
    add_loss("n=11 with token-less examples", base, model, 777, 0.95, 11)
    write_json("metrics/bootstrap.json", {"source": f"NumPy {np.__version__} Generator(PCG64).integers, np.quantile",
                                          "mean": mean_cases, "loss": loss_cases})
