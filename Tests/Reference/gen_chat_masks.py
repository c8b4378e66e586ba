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

QWEN25 = (SHARED / "assets/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja").read_text()

# Qwen2.5 with assistant turns (plain and tool-calling) wrapped in {% generation %}; the rendered text is unchanged
# (checked below against the stock template for every conversation).
QWEN25_GENERATION = QWEN25.replace(
    """        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}""",
    """        {%- if message.role == "assistant" %}
            {{- '<|im_start|>assistant\\n' }}{% generation %}{{- message.content + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}
        {%- else %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
        {%- endif %}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- generation %}
        {%- if message.content %}
            {{- message.content + '\\n' }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {%- if not loop.first %}{{- '\\n' }}{%- endif %}
            {{- '<tool_call>\\n{"name": "' }}""").replace(
    """            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}""",
    """            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\\n' }}""")
assert QWEN25_GENERATION.count("generation %}") == 4, "the Qwen2.5 edit no longer matches the template"

FAMILIES = {
    "chatml": {
        "template": SMOLLM2,
        "generation": SMOLLM2_GENERATION,
        "special": ["<|im_start|>", "<|im_end|>"],
        "bos": "<|im_start|>", "eos": "<|im_end|>",
    },
    "qwen25": {
        "template": QWEN25,
        "generation": QWEN25_GENERATION,
        "special": ["<|im_start|>", "<|im_end|>"],
        "bos": "<|im_start|>", "eos": "<|im_end|>",
        "tools": True,
    },
    "llama31": {
        "template": LLAMA31,
        "generation": LLAMA31_GENERATION,
        "special": ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "bos": "<|begin_of_text|>", "eos": "<|eot_id|>",
        "extra": {"date_string": "26 Jul 2024"},
    },
}


def tool_conversations():
    """The shared glaive ShareGPT records with their tools: function_call turns become assistant tool calls and
    observations tool turns (as Whittle's ShareGPT reader maps them)."""
    glaive = json.loads((SHARED / "assets/datasets/glaive-toolcall-sharegpt/glaive_toolcall_en_demo.json").read_text())
    out = []
    for record in glaive[:10]:
        msgs = []
        for turn in record["conversations"]:
            role = {"human": "user", "gpt": "assistant", "observation": "tool"}.get(turn["from"])
            if role:
                msgs.append({"role": role, "content": turn["value"]})
            elif turn["from"] == "function_call":
                call = json.loads(turn["value"])
                msgs.append({"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": call["name"], "arguments": call.get("arguments", {})}}]})
        tools = json.loads(record["tools"]) if record.get("tools") else None
        out.append((msgs, tools))
    return out


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
        convs = [(m, None) for m in conversations()] + (tool_conversations() if fam.get("tools") else [])
        for messages, tools in convs:
            stock = tok.apply_chat_template(messages, tools=tools, chat_template=fam["template"], tokenize=False,
                                            **fam.get("extra", {}))
            tagged = tok.apply_chat_template(messages, tools=tools, chat_template=fam["generation"], tokenize=False,
                                             **fam.get("extra", {}))
            assert stock == tagged, f"{name}: the generation edit changed the rendered text"
            out = tok.apply_chat_template(messages, tools=tools, chat_template=fam["generation"], tokenize=True,
                                          return_dict=True, return_assistant_tokens_mask=True, **fam.get("extra", {}))
            cases.append({"messages": messages, "tools": tools, "input_ids": list(out["input_ids"]),
                          "assistant_masks": list(out["assistant_masks"])})
        write_json(f"chat-masks/{name}.json", {"source": f"transformers {transformers.__version__} apply_chat_template("
                                               "tokenize=True, return_assistant_tokens_mask=True)",
                                               "extra": fam.get("extra", {}), "cases": cases})
