#!/usr/bin/python3
"""spec_measure.py - speculative decoding on real prompts: `qwen3 run TARGET PROMPT --verbose`
without a draft and with each draft, greedy and sampled, in alternating rounds (README "Speculative
decoding").

    tools/spec_measure.py QWEN3 TARGET ROUNDS NAME=DRAFT_DIR[:K] ... [-- RUN_FLAGS...]

Each round runs every configuration (no draft, then each NAME with --draft DRAFT_DIR and --draft-n
K when given), rotated one place per round so that none always runs first, over the task prompts
below (the families the default model was trained on), thinking on, -t 1, -n 256: greedy (--temp 0)
and sampled (the model's generation defaults, --seed 7). Per round and in total it prints the tokens
generated, their wall time (the `generated: ... in N ms` of --verbose: the prompt's pass apart), the
tokens per CPU-second of the qwen3 processes (getrusage of the children: on a shared, loaded
machine the CPU time a run needed varies far less than its wall time), and the drafts accepted.
The last line says whether every greedy run with a draft printed exactly the text of the run
without (it must: speculative greedy decoding is exact). Standard library only.
"""
import re
import resource
import subprocess
import sys

PROMPTS = ["What is 347 + 589?", "What is 904 - 368?", "What is 47 * 36?",
           "Sort in increasing order: 42, 7, 19, 88, 3", "How many times does the letter r appear in strawberry?",
           "Solve for x: 3*x + 7 = 22"]
MODES = [("greedy", ["--temp", "0"]), ("sampled", ["--seed", "7"])]


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    if len(args) < 3:
        sys.exit(__doc__)
    qwen3, target, rounds = args[0], args[1], int(args[2])
    cfgs = [("plain", None, None)]
    for a in args[3:]:
        name, rest = a.split("=", 1)
        d, k = (rest.split(":") + [None])[:2]
        cfgs.append((name, d, k))
    tot, texts = {}, {}
    for r in range(rounds):
        order = cfgs[r % len(cfgs):] + cfgs[:r % len(cfgs)]
        for mode, mflags in MODES:
            for name, d, k in order:
                g = ms = acc = drafted = 0
                cpu0 = children_cpu()
                outs = []
                for p in PROMPTS:
                    cmd = [qwen3, "run", target, p, "--verbose", "-t", "1", "-n", "256"] + mflags + extra
                    if d:
                        cmd += ["--draft", d]
                    if k:
                        cmd += ["--draft-n", k]
                    out = subprocess.run(cmd, capture_output=True, text=True)
                    log = out.stderr + out.stdout
                    m = re.search(r"generated: (\d+) tokens.* in (\d+) ms", log)
                    if out.returncode or not m:
                        sys.exit("spec_measure: %s: exit %d: %s" % (" ".join(cmd), out.returncode, out.stderr[-400:]))
                    g += int(m.group(1))
                    ms += int(m.group(2))
                    m = re.search(r"draft: (\d+) of (\d+) drafted tokens accepted", log)
                    if m:
                        acc += int(m.group(1))
                        drafted += int(m.group(2))
                    outs.append(out.stdout)
                cpu = children_cpu() - cpu0
                t = tot.setdefault((mode, name), [0, 0, 0, 0, 0.0])
                for i, v in enumerate((g, ms, acc, drafted, cpu)):
                    t[i] += v
                if mode == "greedy":
                    texts.setdefault(name, outs)
                print("round %d %-7s %-8s %5d tokens %7d ms %6.1f tok/s %6.1f tok/cpu-s%s" % (
                    r + 1, mode, name, g, ms, 1000.0 * g / ms, g / cpu,
                    "  accepted %d of %d (%.1f%%)" % (acc, drafted, 100.0 * acc / max(drafted, 1)) if d else ""),
                    flush=True)
    print("totals over %d rounds (speed-ups against the runs without a draft of the same mode)" % rounds)
    for (mode, name), (g, ms, acc, drafted, cpu) in tot.items():
        b = tot[(mode, "plain")]
        print("%-7s %-8s %6d tokens %8d ms %6.1f tok/s %5.2fx %6.1f tok/cpu-s %5.2fx%s" % (
            mode, name, g, ms, 1000.0 * g / ms, (g / ms) / (b[0] / b[1]), g / cpu, (g / cpu) / (b[0] / b[4]),
            "  accepted %d of %d (%.1f%%)" % (acc, drafted, 100.0 * acc / max(drafted, 1)) if drafted else ""))
    print("greedy text with every draft identical to the text without: %s" %
          all(texts[n] == texts["plain"] for n in texts))


if __name__ == "__main__":
    main()
