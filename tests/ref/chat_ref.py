#!/usr/bin/python3
"""chat_ref.py - the reference renderer for the chat-format tests: the model's own Jinja chat template
run the way Hugging Face transformers runs it (an ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks and the loopcontrols extension; its own `tojson` filter, which is json.dumps with
ensure_ascii=False and no HTML escaping; raise_exception and strftime_now as globals; the special
tokens of tokenizer_config.json and the caller's keyword arguments passed as template variables).

usage: chat_ref.py MODEL_DIR [--variant thinking-2507|instruct-2507] < cases.jsonl > prompts.jsonl

Each input line is {"messages": [...], "tools": [...], "add_generation_prompt": bool,
"enable_thinking": bool} (all but messages optional; enable_thinking is only passed when present, as
apply_chat_template(..., enable_thinking=x) would). Each output line is {"prompt": "..."} or, where
Jinja fails, {"error": "..."}, written with json.dumps(ensure_ascii=False).

--variant derives the Qwen3-2507 templates from the hybrid one by the edits Qwen made (the
instruct model drops the think block of the final answer and the generation prompt's empty think
block; the thinking model always opens <think> in the generation prompt), so the C renderer's
variants can be checked against Jinja too. Only the standard library and jinja2 are needed.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def load_template(model_dir):
    try:
        with open(f"{model_dir}/chat_template.jinja", encoding="utf-8") as f:
            return f.read(), {}
    except FileNotFoundError:
        pass
    with open(f"{model_dir}/tokenizer_config.json", encoding="utf-8") as f:
        cfg = json.load(f)
    tpl = cfg["chat_template"]
    if isinstance(tpl, list):
        tpl = {t["name"]: t["template"] for t in tpl}["default"]
    special = {}
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = cfg.get(k)
        if isinstance(v, dict):
            v = v.get("content")
        if v is not None:
            special[k] = v
    if "additional_special_tokens" in cfg:
        special["additional_special_tokens"] = cfg["additional_special_tokens"]
    return tpl, special


HYBRID_GEN = ("    {{- '<|im_start|>assistant\\n' }}\n"
              "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
              "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
              "    {%- endif %}\n")
HYBRID_LAST = "{%- if loop.last or (not loop.last and reasoning_content) %}"


def variant(tpl, name):
    assert HYBRID_GEN in tpl and HYBRID_LAST in tpl, "template is not the Qwen3 hybrid one"
    if name == "thinking-2507":
        return tpl.replace(HYBRID_GEN, "    {{- '<|im_start|>assistant\\n<think>\\n' }}\n")
    if name == "instruct-2507":
        tpl = tpl.replace(HYBRID_GEN, "    {{- '<|im_start|>assistant\\n' }}\n")
        return tpl.replace(HYBRID_LAST, "{%- if reasoning_content %}")
    raise SystemExit(f"unknown variant {name}")


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    tpl, special = load_template(args[0])
    if len(args) == 3 and args[1] == "--variant":
        tpl = variant(tpl, args[2])
    template = compile_template(tpl)
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        kwargs = dict(special)
        if "enable_thinking" in req:
            kwargs["enable_thinking"] = req["enable_thinking"]
        try:
            prompt = template.render(messages=req["messages"], tools=req.get("tools"), documents=None,
                                     add_generation_prompt=req.get("add_generation_prompt", False), **kwargs)
            rec = {"prompt": prompt}
        except Exception as e:  # the C renderer must refuse these too
            rec = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
