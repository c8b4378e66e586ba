"""Chat-template fixtures: real models' templates and small feature templates, rendered by transformers.

Every expected string comes from transformers' own renderer
(`transformers.utils.chat_template_utils.render_jinja_template`, 5.23: jinja2 ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, loopcontrols, the AssistantTracker `generation` tag, raise_exception, strftime_now and the
overridden tojson), called with `return_assistant_tokens_mask=True` so `{% generation %}` spans come from
transformers' AssistantTracker too. Nothing expected is typed by hand.

Output: fixtures/chat-templates/<family>.json, each
    {"family", "provenance", "template" | "template_asset" + "template_sha256", "cases": [...]}
with each case
    {"name", "messages", "tools", "add_generation_prompt", "kwargs",
     "expected": str, "generation_spans": [[start, end], ...]}   (Python string indices = Unicode scalars)
or  {..., "error": {"type": "TemplateError" | "TemplateSyntaxError" | ..., "message": str, "lineno": int | null,
                    "raised": bool}}   (raised = the template called raise_exception)

Qwen2.5 and Phi-3.5 templates are read in place from ../shared/assets/chat-templates (never copied into the repo);
their fixtures name the asset and its sha256 instead of holding the text.
"""
import hashlib
import textwrap

import jinja2
import datetime as _datetime

import transformers.utils.chat_template_utils as _ctu
from transformers.utils import logging as hf_logging
from transformers.utils.chat_template_utils import render_jinja_template

from registry import SHARED, fixture, write_json

# Every case asks for generation spans; templates without `{% generation %}` would make transformers warn each time.
hf_logging.set_verbosity_error()

# MARK: - Published templates (provenance noted per template)

# HuggingFaceTB/SmolLM2-135M-Instruct tokenizer_config.json "chat_template" (ChatML with a default system turn),
# written from its published text.
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# TinyLlama/TinyLlama-1.1B-Chat-v1.0 tokenizer_config.json "chat_template" (the Zephyr template; its newlines between
# tags exercise trim_blocks / lstrip_blocks). Same text as in llama.cpp's chat-template tests ("zephyr").
ZEPHYR = (
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n"
    "{% endif %}\n"
    "{% endfor %}"
)

# meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json "chat_template".
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# meta-llama/Llama-3.1-8B-Instruct tokenizer_config.json "chat_template" (builtin_tools, custom tools in the first
# user message, date_string default "26 Jul 2024").
LLAMA31 = '''{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
'''

# meta-llama/Llama-3.2-3B-Instruct "chat_template", as copied in ggerganov/llama.cpp
# models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja @ 7b5e0803 (date_string from strftime_now when not given).
LLAMA32 = '''{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
'''

# google/gemma-2-2b-it tokenizer_config.json "chat_template" (no system role; strict alternation).
GEMMA2 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

# mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json "chat_template".
MISTRAL_V01 = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

# mistralai/Mistral-7B-Instruct-v0.3 tokenizer_config.json "chat_template" (tools, namespace, tool-call ids of length 9).
MISTRAL_V03 = textwrap.dedent('''\
    {%- if messages[0]["role"] == "system" %}
        {%- set system_message = messages[0]["content"] %}
        {%- set loop_messages = messages[1:] %}
    {%- else %}
        {%- set loop_messages = messages %}
    {%- endif %}
    {%- if not tools is defined %}
        {%- set tools = none %}
    {%- endif %}
    {%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

    {#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
    {%- set ns = namespace() %}
    {%- set ns.index = 0 %}
    {%- for message in loop_messages %}
        {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
            {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
                {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
            {%- endif %}
            {%- set ns.index = ns.index + 1 %}
        {%- endif %}
    {%- endfor %}

    {{- bos_token }}
    {%- for message in loop_messages %}
        {%- if message["role"] == "user" %}
            {%- if tools is not none and (message == user_messages[-1]) %}
                {{- "[AVAILABLE_TOOLS] [" }}
                {%- for tool in tools %}
                    {%- set tool = tool.function %}
                    {{- '{"type": "function", "function": {' }}
                    {%- for key, val in tool.items() if key != "return" %}
                        {%- if val is string %}
                            {{- '"' + key + '": "' + val + '"' }}
                        {%- else %}
                            {{- '"' + key + '": ' + val|tojson }}
                        {%- endif %}
                        {%- if not loop.last %}
                            {{- ", " }}
                        {%- endif %}
                    {%- endfor %}
                    {{- "}}" }}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- else %}
                        {{- "]" }}
                    {%- endif %}
                {%- endfor %}
                {{- "[/AVAILABLE_TOOLS]" }}
                {%- endif %}
            {%- if loop.last and system_message is defined %}
                {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
            {%- else %}
                {{- "[INST] " + message["content"] + "[/INST]" }}
            {%- endif %}
        {%- elif message.tool_calls is defined and message.tool_calls is not none %}
            {{- "[TOOL_CALLS] [" }}
            {%- for tool_call in message.tool_calls %}
                {%- set out = tool_call.function|tojson %}
                {{- out[:-1] }}
                {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                    {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
                {%- endif %}
                {{- ', "id": "' + tool_call.id + '"}' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" + eos_token }}
                {%- endif %}
            {%- endfor %}
        {%- elif message["role"] == "assistant" %}
            {{- " " + message["content"]|trim + eos_token}}
        {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
            {%- if message.content is defined and message.content.content is defined %}
                {%- set content = message.content.content %}
            {%- else %}
                {%- set content = message.content %}
            {%- endif %}
            {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
            {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
        {%- else %}
            {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
        {%- endif %}
    {%- endfor %}
''')

# MARK: - Conversations

SYSTEM = {"role": "system", "content": "You are a terse assistant."}
USER1 = {"role": "user", "content": "Hello, how are you?"}
ASSISTANT1 = {"role": "assistant", "content": "I'm fine, thanks. How can I help?"}
USER2 = {"role": "user", "content": "What is 2 + 2?"}
ASSISTANT2 = {"role": "assistant", "content": "4"}
UNUSUAL = {
    "role": "user",
    "content": "  Quotes ' and \" , braces {{ x }} {% if %} {# c #}, back\\slash, tab\there,\n"
               "unicode: café, 中文, emoji 🙂, nbsp\u00a0end, newline at end\n\n",
}
UNUSUAL_REPLY = {"role": "assistant", "content": "\n  Réponse « spéciale » 🎉 with </s> and <|im_end|> inside.  \n"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather — in °C or °F.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City, e.g. \"Zürich\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
            },
            "required": ["location"],
        },
        "return": {"type": "object"},
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current time", "parameters": {"type": "object", "properties": {}}},
}
TOOL_CALL_MSG = {
    "role": "assistant",
    "content": "",
    "tool_calls": [{"id": "call12345", "type": "function",
                    "function": {"name": "get_weather", "arguments": {"location": "Zürich", "unit": "celsius", "days": 2}}}],
}
TOOL_RESULT_MSG = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
                   "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"}
TOOL_ANSWER = {"role": "assistant", "content": "It is 21.5 °C and clear in Zürich."}
WEATHER_Q = {"role": "user", "content": "What's the weather in Zürich?"}


def basic_cases(system=True):
    """The standard conversations, each with and without the generation prompt."""
    convs = [("single", [USER1]), ("multi", [USER1, ASSISTANT1, USER2]),
             ("multi_closed", [USER1, ASSISTANT1, USER2, ASSISTANT2]),
             ("unusual", [UNUSUAL, UNUSUAL_REPLY, UNUSUAL])]
    if system:
        convs += [("system", [SYSTEM, USER1]), ("system_multi", [SYSTEM, USER1, ASSISTANT1, USER2, ASSISTANT2])]
    out = []
    for name, msgs in convs:
        for agp in (False, True):
            out.append({"name": f"{name}{'_gen' if agp else ''}", "messages": msgs, "add_generation_prompt": agp})
    return out


# MARK: - Rendering through transformers


class _FixedNow:
    """Stands in for `datetime` inside transformers' chat_template_utils so `strftime_now` is reproducible."""
    timestamp = None

    @classmethod
    def now(cls):
        return _datetime.datetime.fromtimestamp(cls.timestamp)


def render_with_now(timestamp, **kwargs):
    if timestamp is None:
        return render_jinja_template(**kwargs)
    saved = _ctu.datetime
    _FixedNow.timestamp = timestamp
    _ctu.datetime = _FixedNow
    try:
        return render_jinja_template(**kwargs)
    finally:
        _ctu.datetime = saved


def render_case(template, case, kwargs):
    messages = case["messages"]
    tools = case.get("tools")
    agp = case.get("add_generation_prompt", False)
    all_kwargs = dict(kwargs)
    all_kwargs.update(case.get("kwargs", {}))
    out = {"name": case["name"], "messages": messages, "tools": tools, "add_generation_prompt": agp, "kwargs": all_kwargs}
    if "now" in case:
        out["now"] = case["now"]
    try:
        rendered, spans = render_with_now(case.get("now"),
            conversations=[messages], tools=tools, chat_template=template, add_generation_prompt=agp,
            return_assistant_tokens_mask=True, **all_kwargs)
        out["expected"] = rendered[0]
        out["generation_spans"] = [list(s) for s in spans[0]]
    except Exception as e:  # noqa: BLE001 - the fixture records whatever transformers/jinja2 raised
        out["error"] = {
            "type": type(e).__name__,
            "message": str(e),
            "lineno": getattr(e, "lineno", None),
            "raised": type(e) is jinja2.exceptions.TemplateError,
        }
    if case.get("expect_error") and "error" not in out:
        raise AssertionError(f"case {case['name']} was meant to fail but rendered")
    if not case.get("expect_error") and "error" in out:
        raise AssertionError(f"case {case['name']} failed unexpectedly: {out['error']}")
    return out


def write_family(family, provenance, template, cases, kwargs, asset=None):
    doc = {"family": family, "provenance": provenance}
    if asset:
        doc["template_asset"] = asset
        doc["template_sha256"] = hashlib.sha256(template.encode("utf-8")).hexdigest()
    else:
        doc["template"] = template
    doc["cases"] = [render_case(template, c, kwargs) for c in cases]
    write_json(f"chat-templates/{family}.json", doc)


def read_asset(rel):
    path = SHARED / "assets" / rel
    # newline="" keeps the file's bytes as they are; the Swift test reads the same file.
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


# MARK: - Real-template fixtures


@fixture("chat-templates-smollm2")
def smollm2():
    """SmolLM2-135M-Instruct ChatML template rendered by transformers."""
    write_family("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct tokenizer_config.json chat_template (published text)",
                 SMOLLM2, basic_cases(), {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})


@fixture("chat-templates-zephyr")
def zephyr():
    """TinyLlama-1.1B-Chat (Zephyr) template rendered by transformers."""
    write_family("zephyr", "TinyLlama/TinyLlama-1.1B-Chat-v1.0 tokenizer_config.json chat_template (Zephyr; published text)",
                 ZEPHYR, basic_cases(), {"bos_token": "<s>", "eos_token": "</s>"})


@fixture("chat-templates-llama3")
def llama3():
    """Meta-Llama-3-8B-Instruct template rendered by transformers."""
    write_family("llama3", "meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json chat_template (published text)",
                 LLAMA3, basic_cases(), {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})


def llama_tool_cases():
    tools = [WEATHER_TOOL, TIME_TOOL]
    return [
        {"name": "tools_in_user", "messages": [SYSTEM, WEATHER_Q], "tools": tools, "add_generation_prompt": True},
        {"name": "tools_in_system", "messages": [SYSTEM, WEATHER_Q], "tools": tools, "add_generation_prompt": True,
         "kwargs": {"tools_in_user_message": False}},
        {"name": "tool_roundtrip", "messages": [WEATHER_Q, TOOL_CALL_MSG, TOOL_RESULT_MSG, TOOL_ANSWER], "tools": tools},
        {"name": "tool_result_mapping", "messages": [WEATHER_Q, TOOL_CALL_MSG,
                                                     {"role": "tool", "content": {"temperature": 21.5, "ok": True, "n": None}}],
         "tools": tools, "add_generation_prompt": True},
        {"name": "two_tool_calls_raise", "messages": [WEATHER_Q, dict(TOOL_CALL_MSG, tool_calls=TOOL_CALL_MSG["tool_calls"] * 2)],
         "tools": tools, "expect_error": True},
        {"name": "tools_without_user_raise", "messages": [SYSTEM], "tools": tools, "expect_error": True},
        {"name": "date_string", "messages": [USER1], "add_generation_prompt": True, "kwargs": {"date_string": "01 Jan 2030"}},
    ]


@fixture("chat-templates-llama31")
def llama31():
    """Llama-3.1-8B-Instruct template (tools, builtin tools) rendered by transformers."""
    cases = basic_cases() + llama_tool_cases() + [
        {"name": "builtin_tools", "messages": [SYSTEM, USER1, {"role": "assistant", "tool_calls": [
            {"type": "function", "function": {"name": "brave_search", "arguments": {"query": "weather \"today\""}}}]}],
         "kwargs": {"builtin_tools": ["code_interpreter", "brave_search", "wolfram_alpha"]}},
    ]
    write_family("llama31", "meta-llama/Llama-3.1-8B-Instruct tokenizer_config.json chat_template (published text)",
                 LLAMA31, cases, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "date_string": "26 Jul 2024"})


def with_generation(template, old, new):
    """Derives a `{% generation %}`-tagged variant of a published template (my edit; transformers renders it)."""
    if template.count(old) != 1:
        raise ValueError("generation edit must match exactly once")
    return template.replace(old, new)


# The published templates with assistant turns wrapped in {% generation %} (gen_chat_masks.py uses them too).
LLAMA31_GENERATION = with_generation(
        LLAMA31,
        """        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n""",
        """        {%- if message.role == 'assistant' %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
            {%- generation %}
            {{- message['content'] | trim + '<|eot_id|>' }}
            {%- endgeneration %}
        {%- else %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
        {%- endif %}\n""")

SMOLLM2_GENERATION = with_generation(
        SMOLLM2,
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}",
        "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
        "{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
        "{% else %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endif %}")


@fixture("chat-templates-llama31-generation")
def llama31_generation():
    """Llama-3.1 template with assistant turns wrapped in {% generation %}: spans from transformers' AssistantTracker."""
    template = LLAMA31_GENERATION
    write_family("llama31-generation", "Llama-3.1-8B-Instruct template (as in chat-templates-llama31) with assistant "
                 "content wrapped in {% generation %} by gen_chat_templates.py", template,
                 basic_cases() + llama_tool_cases()[:3],
                 {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "date_string": "26 Jul 2024"})


@fixture("chat-templates-smollm2-generation")
def smollm2_generation():
    """SmolLM2 ChatML template with assistant turns wrapped in {% generation %}."""
    template = SMOLLM2_GENERATION
    write_family("smollm2-generation", "SmolLM2-135M-Instruct template with assistant turns wrapped in {% generation %} "
                 "by gen_chat_templates.py", template, basic_cases(), {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})


@fixture("chat-templates-llama32")
def llama32():
    """Llama-3.2-3B-Instruct template rendered by transformers (date_string passed explicitly)."""
    write_family("llama32", "meta-llama/Llama-3.2-3B-Instruct chat_template via ggerganov/llama.cpp models/templates @7b5e0803",
                 LLAMA32, basic_cases() + llama_tool_cases(),
                 {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "date_string": "25 Nov 2026"})


# 2024-07-26 12:00 UTC: the same calendar day in every time zone from UTC-11 to UTC+11, so the Swift test's
# local-time strftime agrees with the generator's wherever either runs.
NOON_UTC = 1721995200.0


@fixture("chat-templates-llama32-strftime")
def llama32_strftime():
    """Llama-3.2 without date_string: the template calls strftime_now, with transformers' clock pinned."""
    cases = [{"name": "default_date", "messages": [USER1], "add_generation_prompt": True, "now": NOON_UTC},
             {"name": "default_date_tools", "messages": [WEATHER_Q], "tools": [TIME_TOOL], "now": NOON_UTC + 86400 * 40}]
    write_family("llama32-strftime", "Llama-3.2 template as in chat-templates-llama32, date from strftime_now at a "
                 "fixed time", LLAMA32, cases, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})
    doc = {"family": "strftime", "provenance": "strftime_now formats rendered by transformers at a fixed time",
           "cases": []}
    for i, fmt in enumerate(["%d %b %Y", "%A, %B %d %Y", "%j %U %a %b %y %m", "%%d literal"]):
        template = "{{ strftime_now(" + repr(fmt) + ") }}"
        case = render_case(template, {"name": f"format_{i}", "messages": [], "now": NOON_UTC}, {})
        case["template"] = template
        doc["cases"].append(case)
    write_json("chat-templates/strftime.json", doc)


@fixture("chat-templates-gemma2")
def gemma2():
    """Gemma-2 it template rendered by transformers, including its raise_exception paths."""
    cases = basic_cases(system=False) + [
        {"name": "system_raises", "messages": [SYSTEM, USER1], "expect_error": True},
        {"name": "alternation_raises", "messages": [USER1, USER2], "expect_error": True},
    ]
    write_family("gemma2", "google/gemma-2-2b-it tokenizer_config.json chat_template (published text)",
                 GEMMA2, cases, {"bos_token": "<bos>", "eos_token": "<eos>"})


@fixture("chat-templates-mistral-v01")
def mistral_v01():
    """Mistral-7B-Instruct-v0.1 template rendered by transformers."""
    cases = basic_cases(system=False) + [
        {"name": "system_raises", "messages": [SYSTEM, USER1], "expect_error": True},
        {"name": "alternation_raises", "messages": [USER1, ASSISTANT1, ASSISTANT2], "expect_error": True},
        {"name": "unknown_role_raises", "messages": [USER1, {"role": "tool", "content": "x"}], "expect_error": True},
    ]
    write_family("mistral-v01", "mistralai/Mistral-7B-Instruct-v0.1 tokenizer_config.json chat_template (published text)",
                 MISTRAL_V01, cases, {"bos_token": "<s>", "eos_token": "</s>"})


@fixture("chat-templates-mistral-v03")
def mistral_v03():
    """Mistral-7B-Instruct-v0.3 template (tools, namespace) rendered by transformers."""
    tools = [WEATHER_TOOL, TIME_TOOL]
    cases = basic_cases() + [
        {"name": "tools", "messages": [SYSTEM, USER1, ASSISTANT1, WEATHER_Q], "tools": tools},
        {"name": "tool_roundtrip", "messages": [WEATHER_Q, TOOL_CALL_MSG, TOOL_RESULT_MSG, TOOL_ANSWER], "tools": tools},
        {"name": "bad_tool_call_id_raises", "messages": [WEATHER_Q, dict(TOOL_CALL_MSG, tool_calls=[
            dict(TOOL_CALL_MSG["tool_calls"][0], id="short")])], "tools": tools, "expect_error": True},
        {"name": "alternation_raises", "messages": [USER1, USER2], "expect_error": True},
    ]
    write_family("mistral-v03", "mistralai/Mistral-7B-Instruct-v0.3 tokenizer_config.json chat_template (published text)",
                 MISTRAL_V03, cases, {"bos_token": "<s>", "eos_token": "</s>"})


@fixture("chat-templates-qwen25")
def qwen25():
    """Qwen2.5-Instruct template (read from ../shared/assets) rendered by transformers."""
    asset = "chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja"
    template = read_asset(asset)
    tools = [WEATHER_TOOL, TIME_TOOL]
    cases = basic_cases() + [
        {"name": "tools", "messages": [WEATHER_Q], "tools": tools, "add_generation_prompt": True},
        {"name": "tools_system", "messages": [SYSTEM, WEATHER_Q], "tools": tools, "add_generation_prompt": True},
        {"name": "tool_roundtrip", "messages": [SYSTEM, WEATHER_Q, TOOL_CALL_MSG, TOOL_RESULT_MSG,
                                                dict(TOOL_RESULT_MSG, content="second result"), TOOL_ANSWER], "tools": tools},
        {"name": "tool_call_with_text", "messages": [WEATHER_Q, dict(TOOL_CALL_MSG, content="Let me check.", tool_calls=[
            {"name": "get_time", "arguments": {}}, TOOL_CALL_MSG["tool_calls"][0]])], "tools": tools},
    ]
    write_family("qwen25", "Qwen/Qwen2.5-7B-Instruct chat_template read from ../shared/assets/" + asset,
                 template, cases, {"eos_token": "<|im_end|>"}, asset=asset)


@fixture("chat-templates-phi35")
def phi35():
    """Phi-3.5-mini-instruct template (read from ../shared/assets) rendered by transformers."""
    asset = "chat-templates/microsoft-Phi-3.5-mini-instruct.jinja"
    template = read_asset(asset)
    cases = basic_cases() + [
        {"name": "empty_system", "messages": [{"role": "system", "content": ""}, USER1], "add_generation_prompt": True},
    ]
    write_family("phi35", "microsoft/Phi-3.5-mini-instruct chat_template read from ../shared/assets/" + asset,
                 template, cases, {"bos_token": "<s>", "eos_token": "<|endoftext|>"}, asset=asset)


# MARK: - Feature templates (one construct each)

MSGS = [SYSTEM, USER1, ASSISTANT1, USER2, ASSISTANT2]

# (name, template, kwargs, expect_error). Templates are mine; expected output is transformers'.
FEATURES = [
    # whitespace control, trim_blocks, lstrip_blocks
    ("ws_trim_blocks", "{% if true %}\nA\n{% endif %}\nB\n", {}, False),
    ("ws_lstrip_blocks", "x\n    {% if true %}\n    y\n    {% endif %}\nz", {}, False),
    ("ws_lstrip_not_expr", "line\n    {{ 'e' }}\n  {# c #}\n\t{% if 1 %}t{% endif %}", {}, False),
    ("ws_minus", "a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}\n  c {{- ' d ' -}} e", {}, False),
    ("ws_plus", "a\n    {%+ if true %}b{% endif +%}\nc\n  {#+ keep #}\nd", {}, False),
    ("ws_comment_trim", "a\n{# comment #}\nb\n  {#- x -#}  \n c", {}, False),
    ("ws_first_line", "  {% if true %}\nfirst{% endif %}", {}, False),
    ("ws_trailing_newline", "end\n", {}, False),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}, False),
    ("ws_raw", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{{ 1 }}", {}, False),
    # literals and printing like Python
    ("lit_numbers", "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 2.50 }} {{ 1_000 }} {{ -0.0 }} {{ 10 / 4 }} {{ 10 // 4 }} {{ 0.1 + 0.2 }} {{ 1e-7 }} {{ 1e16 }} {{ 123456789.0 * 1000000000 }}", {}, False),
    ("lit_strings", "{{ 'a\\'b' }}|{{ \"q\\\"q\" }}|{{ 'tab\\tnl\\n' }}|{{ '\\u00e9\\x41' }}|{{ 'keep\\d' }}|{{ 'ab' 'cd' }}", {}, False),
    ("lit_print_containers", "{{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ (1, 'x') }} {{ () }} {{ none }} {{ True }} {{ ['it\\'s', \"q\\\"\", '\\n'] }}", {}, False),
    ("lit_constants", "{{ true }} {{ false }} {{ none }} {{ True }} {{ False }} {{ None }}", {}, False),
    # operators
    ("op_arith", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + true }}", {}, False),
    ("op_concat", "{{ 'a' ~ 1 ~ none ~ true ~ [1] }} {{ 'x' + 'y' }} {{ [1] + [2] }} {{ 'ab' * 3 }} {{ undefined_var ~ 'z' }}", {}, False),
    ("op_compare", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 'abc' < 'abd' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2 }} {{ none == none }} {{ 1 == true }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }}", {}, False),
    ("op_logic", "{{ 1 and 'x' }}|{{ 0 and 'x' }}|{{ '' or 'dflt' }}|{{ 'v' or 'dflt' }}|{{ not none }}|{{ not [1] }}|{{ none or [] }}", {}, False),
    ("op_in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} {{ 3 not in (1, 2) }} {{ 'role' in messages[0] }} {{ 'x' in undefined_thing }}", {}, False),
    ("op_ternary", "{{ 'yes' if messages else 'no' }} {{ 'a' if none else 'b' }} [{{ 'only' if false }}] {{ (1 if true else 2) + 1 }}", {}, False),
    ("op_precedence", "{{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ -2 ** 2 }} {{ not 1 == 2 }} {{ 'a' ~ (1 + 2) }} {{ 1 ~ 2 * 3 }} {{ -3|abs }} {{ 10 - 2 - 3 }} {{ 2 ** 3 ** 2 }}", {}, False),
    # access
    ("access_attr_item", "{{ messages[1].role }} {{ messages[1]['content'] }} {{ messages[-1].content }} {{ messages.0.role }} [{{ messages[1].missing }}] [{{ messages[99] }}] {{ messages[1].get('role') }} {{ messages[1].get('nope', 'dflt') }} [{{ none_var }}]", {"none_var": None}, False),
    ("access_slices", "{{ messages[1:3]|map(attribute='role')|join(',') }} {{ 'abcdef'[::-1] }} {{ 'abcdef'[1:] }} {{ 'abcdef'[:-2] }} {{ 'abcdef'[::2] }} {{ [1,2,3,4,5][-2:] }} {{ [1,2,3,4,5][4:1:-1] }} {{ 'héllo'[1] }} {{ [][:] }}", {}, False),
    ("access_dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys()|list }} {{ d.values()|list }} {{ d|length }} {% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": [2], "m": {"x": None}}}, False),
    ("access_undefined_attr_error", "{{ nothing.attr }}", {}, True),
    ("access_none_attr", "[{{ n.attr }}]", {"n": None}, False),
    # statements
    ("stmt_if_elif_else", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x is even %}even{% else %}other{% endif %},{% endfor %}", {}, False),
    ("stmt_for_loop_vars", "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem.role if loop.previtem is defined else '-' }}/{{ loop.nextitem.role if loop.nextitem is defined else '-' }}|{% endfor %}", {}, False),
    ("stmt_for_else_filter", "{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content }};{{ loop.length }};{% endfor %}{% for x in [] %}x{% else %}empty{% endfor %}", {}, False),
    ("stmt_for_unpack_filters", "{% for k, v in d|items %}{{ k }}:{{ v }},{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}{% for c in 'héy' %}[{{ c }}]{% endfor %}{% for x in d|dictsort %}{{ x }}{% endfor %}", {"d": {"b": 1, "a": 2}}, False),
    ("stmt_for_cycle", "{% for x in range(5) %}{{ loop.cycle('odd', 'even') }}{% endfor %}", {}, False),
    ("stmt_loop_changed", "{% for m in messages %}{% if loop.changed(m.role == 'user') %}[{{ m.role }}]{% endif %}{{ loop.changed(m.role, 1) }};{% endfor %}|{% for x in [1, 1, 2, 2, 1] %}{{ loop.changed(x) }}{% endfor %}", {}, False),
    ("stmt_nested_loops", "{% for a in [1, 2] %}{% for b in ['x', 'y'] %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}", {}, False),
    ("stmt_break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}, False),
    ("stmt_set_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}{% if true %}{% set y = 'if-scope' %}{% endif %}|{{ y }}", {}, False),
    ("stmt_set_tuple_block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}  inner {{ a }}\n{% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}{% set t = 1, 2 %}{{ t }}", {}, False),
    ("stmt_namespace", "{% set ns = namespace(found=false, count=0, items=[]) %}{% for m in messages %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% set ns.count = ns.count + 1 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.count }} {{ ns.items }}", {}, False),
    ("stmt_macro", "{% macro tag(name, body='-', sep=':') %}<{{ name }}{{ sep }}{{ body }}>{% endmacro %}{{ tag('a') }}{{ tag('b', 'x') }}{{ tag('c', sep='=') }}{{ tag(name='d', body=1) }}", {}, False),
    ("stmt_macro_call_caller", "{% macro wrap(cls) %}[{{ cls }}:{{ caller() }}]{% endmacro %}{% call wrap('box') %}inside {{ 1 + 1 }}{% endcall %}{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}", {}, False),
    ("stmt_filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}|{% filter trim %}   padded   {% endfilter %}", {}, False),
    ("stmt_with", "{% with a = 1, b = 'x' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", {}, False),
    ("stmt_raise_exception", "{% if messages|length > 2 %}{{ raise_exception('Too many messages: ' ~ messages|length) }}{% endif %}", {}, True),
    ("stmt_strftime_literal", "{{ strftime_now('no-directives') }}", {}, False),
    ("stmt_dict_global", "{{ dict(a=1, b='x') }} {{ dict([('k', 2)]) }} {{ dict({'z': 0}, y=1) }}", {}, False),
    # tests
    ("tests_types", "{% for v in [1, 1.5, 'a', [1], {'k': 1}, none, true, (1, 2)] %}{{ v is number }}{{ v is integer }}{{ v is float }}{{ v is string }}{{ v is sequence }}{{ v is mapping }}{{ v is iterable }}{{ v is none }}{{ v is boolean }}{{ v is true }}{{ v is false }};{% endfor %}", {}, False),
    ("tests_defined", "{{ x is defined }} {{ x is undefined }} {{ messages is defined }} {{ messages[0].nope is defined }} {{ x is not defined }} {{ none_var is none }} {{ none_var is defined }}", {"none_var": None}, False),
    ("tests_values", "{{ 6 is divisibleby 3 }} {{ 7 is divisibleby(3) }} {{ 3 is odd }} {{ 4 is even }} {{ 'a' is eq 'a' }} {{ 2 is gt 1 }} {{ 2 is lt 1 }} {{ 2 is ge 2 }} {{ 1 is le 0 }} {{ 1 is ne 2 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 1 is in [1, 2] }} {{ none is sameas none }} {{ 'x' is equalto 'x' }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ raise_exception is callable }}", {}, False),
    # filters
    ("filters_text", "{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello wORLD'|upper }}|{{ 'HeLLo'|lower }}|{{ 'hello wORLD-foo (bar) [baz]'|title }}|{{ 'hELLO world'|capitalize }}|{{ 'a-b-c'|replace('-', '+') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'one two  three'|wordcount }}|{{ 'x'|center(5) }}|{{ '<a href=\"x\">&\\'</a>'|e }}|{{ '<b>'|safe }}|{{ 3|string ~ 'x' }}", {}, False),
    ("filters_numbers", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.99|int }} {{ '3.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ -3|abs }} {{ -2.5|abs }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ 5|round }} {{ '0x1A'|int(0, 16) }} {{ 'ff'|int(base=16) }}", {}, False),
    ("filters_sequences", "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ [1, 3, 2]|sort(reverse=true) }} {{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }} {{ [1, 2, 2, 'a', 'A']|unique|list }} {{ [1, 2]|first }} {{ [1, 2]|last }} {{ 'xyz'|first }} {{ [3, 9, 2]|max }} {{ [3, 9, 2]|min }} {{ [1, 2, 3]|sum }} {{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ 'ab'|list }} {{ [1, [2]]|length }} {{ 'héllo'|count }} {{ {'a': 1}|list }}", {}, False),
    ("filters_join_map_select", "{{ messages|map(attribute='role')|join(', ') }}|{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }}|{{ messages|rejectattr('role', 'in', ['user', 'system'])|list|length }}|{{ [1, 2, 3, 4]|select('odd')|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ [0, 1, '', 'x']|select|list }}|{{ ['a', 'b']|map('upper')|join }}|{{ messages|map(attribute='missing', default='?')|join }}|{{ messages|selectattr('tool_calls')|list }}|{{ [1, 2]|join('-') }}|{{ messages|sort(attribute='content')|map(attribute='role')|join(',') }}|{{ users|map(attribute='profile.name')|join(',') }}|{{ users|sum(attribute='age') }}", {"users": [{"profile": {"name": "ann"}, "age": 30}, {"profile": {"name": "bob"}, "age": 4}]}, False),
    ("filters_default", "{{ undefined_v|default('d') }}|{{ none_v|default('d') }}|{{ ''|default('d', true) }}|{{ ''|d('d') }}|{{ 0|default('d', boolean=true) }}|{{ 'x'|default('d') }}", {"none_v": None}, False),
    ("filters_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'a\\nb'|indent('--') }}|{{ 'one'|indent(first=true) }}|{{ 'x\\r\\ny\\n'|indent(1) }}", {}, False),
    ("filters_truncate", "{{ long|truncate(20) }}|{{ long|truncate(20, true) }}|{{ long|truncate(20, end='…') }}|{{ long|truncate(20, leeway=0) }}|{{ 'short'|truncate(3, leeway=3) }}|{{ long|truncate(length=24, killwords=false, end='', leeway=0) }}|{{ 'nospacesatallinthisverylongword'|truncate(10, leeway=0) }}|{{ long|truncate }}",
     {"long": "The quick brown fox jumps over the lazy dog"}, False),
    ("filters_items_dictsort", "{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(by='value', reverse=true) }} {{ d|dictsort(case_sensitive=true) }}", {"d": {"b": 2, "a": 3, "C": 1}}, False),
    ("filters_format", "{{ '%s and %s'|format('a', 1) }} {{ 'v=%d%%'|format(42) }} {{ '%r'|format('q') }} {{ 'x' ~ '%s' % 'y' }} {{ '{} {name}'.format(1, name='n') }}", {}, False),
    # tojson (transformers' override)
    ("tojson_nested_unicode", "{{ data|tojson }}\n{{ data|tojson(indent=2) }}\n{{ data|tojson(indent=4, sort_keys=true) }}\n{{ data|tojson(separators=(',', ':')) }}\n{{ data|tojson(ensure_ascii=true) }}\n{{ []|tojson(indent=2) }}{{ {}|tojson(indent=2) }}\n{{ 'a\"b\\\\c\\n\\t\\x01'|tojson }}\n{{ [1.0, 2.5e-7, 1e20, -0.0, 100]|tojson }}\n{{ (1, 'x')|tojson }}\n{{ data|tojson(indent='\\t') }}",
     {"data": {"zeta": "Zürich 🙂 \"quoted\" </script>", "alpha": [1, 2.0, None, True, False], "nested": {"empty_list": [], "empty": {}, "deep": {"k": "v"}}, "num": 1e-5}}, False),
    ("tojson_undefined_error", "{{ nope|tojson }}", {}, True),
    # methods on strings
    ("str_methods", "{{ '  pad  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  l'.lstrip() }}|{{ 'r  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b  c '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'abc'.upper() }}|{{ 'ABC'.lower() }}|{{ \"they're bill's\".title() }}|{{ 'hELLO'.capitalize() }}|{{ 'aXbXc'.replace('X', '-') }}|{{ '-'.join(['a', 'b']) }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.rfind('c') }}|{{ 'abcabc'.count('bc') }}|{{ 'l1\\nl2\\r\\nl3'.splitlines() }}|{{ '123'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ 'Hi {}! {x}'.format('you', x=1) }}|{{ 'pre_x'.removeprefix('pre_') }}|{{ '7'.zfill(3) }}", {}, False),
    ("list_method_unsafe", "{% set l = [1] %}{{ l.append(2) }}", {}, True),
    ("dict_method_unsafe", "{% set d = {'a': 1} %}{{ d.update({'b': 2}) }}", {}, True),
    # generation tag spans
    ("generation_chatml", "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>{% endgeneration %}{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", {}, False),
    ("generation_unicode_offsets", "é🙂{% for m in messages %}{% if m.role == 'assistant' %}[{% generation %}«{{ m.content }}🎉»{% endgeneration %}]{% else %}{{ m.content }}{% endif %}{% endfor %}", {}, False),
    ("generation_ws", "{% for m in messages if m.role == 'assistant' %}\n  {% generation %}\n  {{- m.content }}\n  {% endgeneration %}\n{% endfor %}", {}, False),
    # syntax errors (jinja2 reports them at compile time; the Swift test checks the line)
    ("err_unclosed_if", "line1\n{% if true %}\nno end", {}, True),
    ("err_unclosed_for", "{% for m in messages %}\n{{ m }}\n", {}, True),
    ("err_unknown_filter", "ok\n\n{{ 'x'|no_such_filter }}", {}, True),
    ("err_unknown_test", "{% if 1 is no_such_test %}{% endif %}", {}, True),
    ("err_bad_expression", "a\n{{ 1 + }}", {}, True),
    ("err_unexpected_end", "{% if true %}x{% endfor %}", {}, True),
    ("err_unclosed_variable", "a {{ 'x' ", {}, True),
    ("err_unclosed_comment", "a {# never closed", {}, True),
    ("err_unknown_tag", "{% frobnicate %}", {}, True),
    ("err_not_callable", "{{ messages() }}", {}, True),
    ("err_type_add", "{{ 'a' + 1 }}", {}, True),
    ("err_undefined_call", "{{ nope() }}", {}, True),
    # more constructs seen in real templates (Qwen3-style reverse scans, multimodal content, macros with varargs)
    ("real_reverse_scan", "{%- set ns = namespace(multi_step=true, last_query=messages|length - 1) %}{%- for m in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if ns.multi_step and m.role == 'user' %}{%- set ns.multi_step = false %}{%- set ns.last_query = index %}{%- endif %}{%- endfor %}{{ ns.last_query }}|{% for m in messages %}{% if m.content is string and '</think>' in m.content %}{{ m.content.split('</think>')[-1].lstrip('\\n') }}|{{ m.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}{% endif %}{% endfor %}", {}, False,
     [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nanswer"}, {"role": "user", "content": "q2"}, {"role": "tool", "content": "r"}]),
    ("real_multimodal_content", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for c in m.content %}{% if c.type == 'image' or 'image' in c %}<img>{% elif c.type == 'text' %}{{ c.text }}{% endif %}{% endfor %}|{{ m.content|selectattr('type', 'equalto', 'text')|map(attribute='text')|join(' ') }}{% endif %};{% endfor %}", {}, False,
     [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}, {"type": "text", "text": "Be brief."}]}, {"role": "assistant", "content": "A cat."}]),
    ("macro_varargs_scope", "{% macro m(a, b=a ~ '!') %}{% set inner = 'x' %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 2, 3, 4) }}|{{ m('p', k='v') }}|[{{ inner }}]", {}, False),
    ("macro_raises", "{% macro check(m) %}{% if m.role not in ['user', 'assistant', 'system'] %}{{ raise_exception('Bad role: ' + m.role) }}{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{% endfor %}", {}, True,
     [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]),
    ("print_values", "{{ messages[0] }}|{{ loop }}|{{ messages[0].y }}|{{ 'ab'.nope }}|{{ [none, [1.5, 'é\\n'], {'k': (1, 2)}] }}|{{ ('a',) }}|{{ 1e300 * 1e10 }}|{{ -1e300 * 1e10 }}|{{ 2 ** 0.5 }}|{{ 10 % 3.5 }}|{{ 7 // 2.0 }}|{{ 3 / 1 }}", {}, False),
    ("str_more", "{{ 'ß'.upper() }}|{{ 'İ'.lower()|length }}|{{ 'hello world'.title() }}|{{ 'o\\'neil mc-d'|title }}|{{ '%s' % [1, 2] }}|{{ '%5s|%-5s|' % ('a', 'b') if false else 'skip' }}|{{ 'a b'.split(' ') }}|{{ ''.split() }}|{{ ' '.join('abc') }}|{{ 'x'|replace('', '-') }}|{{ 'aaa'.count('') }}|{{ 'AbC'.swapcase() }}|{{ 'abc'.startswith('') }}|{{ 'é🙂x'[::-1] }}|{{ 'é🙂x'|length }}", {}, False),
    ("ws_mixed", "start\n  {%- for x in [1, 2] %}\n    item {{ x }}\n  {%- endfor %}\n\n{% if true -%}\n   kept?\n{%- endif %}\n  {#- note -#}\n  {{- ' tail ' -}}\n  end", {}, False),
    ("ws_generation_trim", "{% for m in messages %}\n{% if m.role == 'assistant' %}\n  {% generation %}\n    {{ m.content }}\n  {% endgeneration %}\n{% endif %}\n{% endfor %}", {}, False),
    ("ws_tabs_and_nbsp", "a\n\t \t{% if true %}x{% endif %}\n\u00a0 {% if true %}y{% endif %}\n\t{{ 'z' }}", {}, False),
    ("loop_edge", "{% for x in [7] %}{{ loop.first }}{{ loop.last }}{{ loop.previtem is defined }}{{ loop.nextitem is defined }}{% endfor %}{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}{% for i in range(0) %}x{% else %}none{% endfor %}{% for k, v in {'a': 1}.items() %}{{ k }}{{ v }}{% endfor %}{% for x in undefined_iter %}x{% endfor %}|{% for a in [1, 2] %}{% for b in [3] %}{{ loop.index }}{% break %}{% endfor %}{{ a }}{% endfor %}", {}, False),
    ("set_in_loop_reads_outer", "{% set total = 0 %}{% set ns = namespace(total=0) %}{% for n in [1, 2, 3] %}{% set total = total + n %}{% set ns.total = ns.total + n %}{% endfor %}{{ total }} {{ ns.total }}{% set messages = messages[1:] %} {{ messages|length }}", {}, False),
    ("filters_more", "{{ [{'n': 'b', 'v': 2}, {'n': 'a', 'v': 1}]|sort(attribute='n')|map(attribute='v')|list }} {{ ['B', 'a', 'C']|max }} {{ ['B', 'a', 'C']|min(case_sensitive=true) }} {{ [1, 2, 3]|sum(start=10) }} {{ [[1], [2]]|sum(start=[]) }} {{ ['a', 'b']|map('upper')|list }} {{ [' a ', 'b ']|map('trim')|join(',') }} {{ [1, 'a']|map('string')|list }} {{ {'a': 1, 'b': 2}|items|map('last')|list }} {{ []|first is defined }} {{ none|default('n', true) }} {{ 'abc'|batch(2)|list }} {{ 42|string|length }} {{ [3, 1]|sort|first }}", {}, False),
    ("tojson_args", "{{ 'é'|tojson }} {{ 'é'|tojson(ensure_ascii=true) }} {{ {'b': 1, 'a': {'d': 1, 'c': 2}}|tojson(sort_keys=true) }} {{ [1, [2, [3]]]|tojson(indent=1) }} {{ {'a': [1, 2]}|tojson(indent=2, separators=(', ', ' = ')) }} {{ 1.0|tojson }} {{ true|tojson }} {{ none|tojson }} {{ '\\u2028\\u007f\\ud7ff'|tojson }} {{ '\\u007f'|tojson(ensure_ascii=true) }} {{ 12345678901234567890.0|tojson }} {{ 0.000001|tojson }}", {}, False),
    ("compare_mixed_error", "{{ 1 < 'a' }}", {}, True),
    ("in_none_error", "{{ 'a' in none }}", {}, True),
    ("iterate_none_error", "{% for x in none_v %}{% endfor %}", {"none_v": None}, True),
    ("undefined_arith_error", "{{ nope + 1 }}", {}, True),
    ("string_literals_more", "{{ 'a\\\\nb' }}|{{ \"it's\" }}|{{ '\\'' }}|{{ '\\x41\\u00e9\\U0001F642' }}|{{ 'tab\\there' }}|{{ '{{ not a tag }}' }}|{{ '{% raw %}' }}", {}, False),
    ("tuple_and_dict_literals", "{% set t = (1, 'two', [3]) %}{{ t[1] }}{{ t|length }}{{ t[-1][0] }}{% set d = {'k': 'v', 'n': {'m': 1}} %}{{ d.n.m }}{{ d['k'] }}{{ d|length }}{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b') }}{{ (1, 2) == (1, 2) }}{{ [1, 2] == (1, 2) }}", {}, False),
    ("scalar_not_grapheme", "{{ '\\n' in crlf }} {{ crlf|length }} {{ crlf.split('\\n') }} {{ 'e' in decomposed }} {{ decomposed == precomposed }} {{ decomposed|length }} {{ crlf[1] == '\\n' }}",
     {"crlf": "a\r\nb", "decomposed": "e\u0301", "precomposed": "\u00e9"}, False),
    ("bool_int_mix", "{{ true + true }} {{ true * 3 }} {{ [1, 2][true] }} {{ 1 == true }} {{ 0 == false }} {{ true is number }} {{ true is integer }} {{ 1 is boolean }} {{ 2 is sameas 2 }} {{ true is sameas true }}", {}, False),
    # filters that return generators: always truthy, no len(), iterable once (fuzzing against jinja2 found these)
    ("generator_semantics", "{{ 'yes' if messages|selectattr('role', 'eq', 'nobody') else 'no' }} {{ 'yes' if messages|selectattr('role', 'eq', 'nobody')|list else 'no' }} {{ [1, 2]|reverse|list }} {{ 'ab'|reverse }} {{ (messages|map(attribute='role')|list)[0] }} {{ 'user' in messages|map(attribute='role') }} {{ messages|selectattr('role', 'eq', 'user')|first|tojson }} {{ not [1]|select }} {% for k, v in {'a': 1}|items %}{{ k }}{{ v }}{% endfor %}", {}, False),
    ("views_and_range", "{{ d.keys() }}|{{ d.values() }}|{{ d.items() }}|{{ range(3) }}|{{ range(1, 9, 3) }}|{{ range(3, 0, -1) }}|{{ range(3)|length }}|{{ range(5)[1] }}|{{ range(5)[-1] }}|{{ d.keys()|list }}|{{ d.keys()|length }}|{{ 'a' in d.keys() }}|{{ d.keys()[0] is defined }}|{{ d.items()|first }}|{{ d.values()|last }}|{{ range(3) is sequence }}|{{ d.keys() is sequence }}|{{ {}.keys() or 'empty' }}|{{ range(0) or 'empty' }}|{{ range(3) == range(3) }}|{{ range(3) == [0, 1, 2] }}|{{ d.keys() == {'b': 0, 'a': 1}.keys() }}|{{ d.keys() ~ '' }}|{{ d.values()|sort|list }}|{{ range(4)|select('odd')|list }}|{{ range(3)|reverse|list }}|{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}",
     {"d": {"a": 1, "b": 2}}, False),
    ("views_tojson_error", "{{ {'a': 1}.keys()|tojson }}", {}, True),
    ("range_tojson_error", "{{ range(2)|tojson }}", {}, True),
    ("generator_length_error", "{{ messages|selectattr('role', 'eq', 'user')|length }}", {}, True),
    ("pow_zero_negative_error", "{{ 0 ** -1 }}", {}, True),
    ("indent_non_string_error", "{{ 5|indent }}", {}, True),
    ("unhashable_in_error", "{{ {} in {} }}", {}, True),
    ("percent_extra_arg_error", "{{ 'x' % 2 }}", {}, True),
    # transformers' message preparation: reasoning under any of its names is offered as `thinking` and
    # `reasoning_content` (_alias_reasoning_fields)
    ("reasoning_alias", "{% for m in messages %}{{ m|tojson }}\n{% endfor %}", {}, False,
     [{"role": "assistant", "reasoning": "why", "content": "c"},
      {"role": "assistant", "content": "d", "reasoning_content": "rc", "thinking": None},
      {"role": "user", "thinking": "t", "content": "e"}]),
]


@fixture("chat-templates-features")
def features():
    """Small templates exercising one construct each, rendered by transformers (errors recorded, not rendered)."""
    doc = {"family": "features", "provenance": "templates written for Whittle's tests; output rendered by transformers 5.23",
           "cases": []}
    for name, template, kwargs, expect_error, *messages in FEATURES:
        case = {"name": name, "messages": messages[0] if messages else MSGS, "add_generation_prompt": True,
                "expect_error": expect_error}
        rendered = render_case(template, case, kwargs)
        rendered["template"] = template
        doc["cases"].append(rendered)
    write_json("chat-templates/features.json", doc)
