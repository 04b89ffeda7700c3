#!/usr/bin/python3
"""gen_gguf_corpus.py OUT_DIR - the seed corpus of the GGUF fuzz target (tests/data/fuzz/gguf).

Small valid files that reach every part of the readers: a tiny dense and a tiny MoE model (F32,
BF16, Q8_0), the second part of a split set, a file with every metadata value type, and a
miniature byte-level BPE tokenizer (256 byte tokens, a few merges, a control and a user-defined
added token, an unused filler, a chat template). Deterministic."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_checkpoint  # noqa: E402
import gguf_write  # noqa: E402

SMALL = ["--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1", "--head-dim", "16",
         "--intermediate", "32", "--vocab", "32", "--no-tokenizer", "-q", "--seed", "3", "--gguf"]


def model(out, name, extra):
    tmp = tempfile.mkdtemp()
    try:
        gen_checkpoint.main([tmp] + SMALL + extra)
        for fn in sorted(os.listdir(tmp)):
            if fn.endswith(".gguf"):
                suffix = fn[len("model"):-len(".gguf")]
                shutil.copyfile(os.path.join(tmp, fn), os.path.join(out, name + suffix + ".gguf"))
    finally:
        shutil.rmtree(tmp)


def byte_token(b):
    return chr(gen_checkpoint_byte_char(b))


def gen_checkpoint_byte_char(b):
    if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
        return b
    if b <= 32:
        return 256 + b
    if b <= 160:
        return 289 + (b - 127)
    return 323


def tokenizer(path):
    w = gguf_write.Writer()
    toks = [byte_token(b) for b in range(256)]
    merges = ["a b", "ab c", "Ġ t", "h e"]
    for m in merges:
        toks.append(m.replace(" ", ""))
    types = [gguf_write.TOKEN_NORMAL] * len(toks)
    toks += ["<|im_start|>", "<|im_end|>", "<think>", "[PAD999]"]
    types += [gguf_write.TOKEN_CONTROL, gguf_write.TOKEN_CONTROL, gguf_write.TOKEN_USER_DEFINED, gguf_write.TOKEN_UNUSED]
    w.add("general.architecture", "str", "qwen3")
    w.add("tokenizer.ggml.model", "str", "gpt2")
    w.add("tokenizer.ggml.pre", "str", "qwen2")
    w.add("tokenizer.ggml.tokens", ("arr", "str"), toks)
    w.add("tokenizer.ggml.token_type", ("arr", "i32"), types)
    w.add("tokenizer.ggml.merges", ("arr", "str"), merges)
    w.add("tokenizer.ggml.eos_token_id", "u32", 261)
    w.add("tokenizer.ggml.add_bos_token", "bool", False)
    w.add("tokenizer.chat_template", "str", "{% for m in messages %}{{ m.content }}{% endfor %}")
    w.write(path)


def all_types(path):
    w = gguf_write.Writer(alignment=64, version=2)
    for t, v in (("u8", 1), ("i8", -1), ("u16", 2), ("i16", -2), ("u32", 3), ("i32", -3), ("f32", 1.5),
                 ("bool", True), ("str", "x"), ("u64", 4), ("i64", -4), ("f64", 2.5)):
        w.add("k." + t, t, v)
    w.add("k.arr", ("arr", "u16"), [1, 2, 3])
    w.add("general.alignment", "u32", 64)
    w.add_tensor("t", "F32", [4, 2], lambda f: f.write(b"\0" * 32))
    w.write(path)


def main(argv):
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    model(out, "dense-f32", ["--preset", "tiny", "--dtype", "f32"])
    model(out, "dense-q8_0-untied-yarn", ["--preset", "tiny", "--dtype", "q8_0", "--untied", "--yarn", "2"])
    model(out, "moe-bf16", ["--preset", "tiny-moe", "--dtype", "bf16", "--experts", "2", "--experts-per-tok", "1",
                            "--moe-intermediate", "32"])
    model(out, "split", ["--preset", "tiny", "--dtype", "bf16", "--gguf-split", "2"])
    tokenizer(os.path.join(out, "tokenizer.gguf"))
    all_types(os.path.join(out, "value-types-v2.gguf"))
    with open(os.path.join(out, "empty.gguf"), "wb") as f:
        f.write(b"GGUF\x03\0\0\0" + b"\0" * 16)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
