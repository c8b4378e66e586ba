"""Fixtures for TrainingData's chat rendering: token ids and assistant-only masks from transformers.

Each family is a small tokenizer folder (the trained byte-level tokenizer from gen_tokenizers.py plus the family's
special tokens) with two configs: `tokenizer_config.json` (the published, stock template) and
`tokenizer_config.generation.json` (the same template with `{% generation %}` tags, gen_chat_templates.py's edit).
transformers renders and tokenizes each conversation with the generation variant and
`return_assistant_tokens_mask=True`; Whittle must produce the same ids and masks from the generation variant
(tags) and from the stock template (incremental rendering).
"""
import json
import pathlib

import transformers

from gen_chat_templates import LLAMA31, LLAMA31_GENERATION, SMOLLM2, SMOLLM2_GENERATION
from registry import OUT, SHARED, fixture, write_json

FAMILIES = {
    "chatml": {
        "template": SMOLLM2,
        "generation": SMOLLM2_GENERATION,
        "special": ["<|im_start|>", "<|im_end|>"],
        "bos": "<|im_start|>", "eos": "<|im_end|>",
    },
    "llama31": {
        "template": LLAMA31,
        "generation": LLAMA31_GENERATION,
        "special": ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "bos": "<|begin_of_text|>", "eos": "<|eot_id|>",
        "extra": {"date_string": "26 Jul 2024"},
    },
}


def conversations():
    """Hand-written multi-turn chats with awkward contents, plus real ones from the shared ShareGPT and alpaca data."""
    convs = [
        [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello. How can I help?"}],
        [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Capital of France?"},
         {"role": "assistant", "content": "Paris"}, {"role": "user", "content": "And of Italy?"},
         {"role": "assistant", "content": "Rome"}],
        [{"role": "user", "content": "Write   two\nlines\t\tplease"}, {"role": "assistant", "content": "  first line\nsecond 😀 line  "},
         {"role": "user", "content": "ünïcödé {braces} \"quotes\""}, {"role": "assistant", "content": "日本語もOK. 12345"}],
    ]
    glaive = json.loads((SHARED / "assets/datasets/glaive-toolcall-sharegpt/glaive_toolcall_en_demo.json").read_text())
    for record in glaive[:6]:
        msgs = []
        for turn in record["conversations"]:
            role = {"human": "user", "gpt": "assistant"}.get(turn["from"])
            if role:
                msgs.append({"role": role, "content": turn["value"]})
        if any(m["role"] == "assistant" for m in msgs):
            convs.append(msgs)
    identity = json.loads((SHARED / "assets/datasets/llamafactory-identity/identity.json").read_text())
    for record in identity[:3]:
        convs.append([{"role": "user", "content": record["instruction"]}, {"role": "assistant", "content": record["output"]}])
    return convs


@fixture("chat-masks")
def chat_masks():
    """Ids and assistant masks for ChatML (SmolLM2) and Llama-3.1 templates, by transformers."""
    base = OUT / "tokenizers/bytelevel_llama3.tokenizer.json"
    for name, fam in FAMILIES.items():
        folder = OUT / "chat-masks" / name
        folder.mkdir(parents=True, exist_ok=True)
        tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(base))
        tok.add_special_tokens({"additional_special_tokens": fam["special"]})
        tok.bos_token, tok.eos_token = fam["bos"], fam["eos"]
        tok.chat_template = fam["template"]
        tok.save_pretrained(str(folder))
        config = json.loads((folder / "tokenizer_config.json").read_text())
        # transformers 5 saves the template as chat_template.jinja; keep it inside the config (the older layout,
        # which Whittle reads too) so the two variants differ only in that key.
        config["chat_template"] = fam["template"]
        (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        config["chat_template"] = fam["generation"]
        (folder / "tokenizer_config.generation.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        # Keep the folder minimal: what Whittle reads.
        for extra in folder.iterdir():
            if extra.name not in ("tokenizer.json", "tokenizer_config.json", "tokenizer_config.generation.json"):
                extra.unlink()
        cases = []
        for messages in conversations():
            out = tok.apply_chat_template(messages, chat_template=fam["generation"], tokenize=True, return_dict=True,
                                          return_assistant_tokens_mask=True, **fam.get("extra", {}))
            cases.append({"messages": messages, "input_ids": list(out["input_ids"]),
                          "assistant_masks": list(out["assistant_masks"])})
        write_json(f"chat-masks/{name}.json", {"source": f"transformers {transformers.__version__} apply_chat_template("
                                               "tokenize=True, return_assistant_tokens_mask=True)",
                                               "extra": fam.get("extra", {}), "cases": cases})
