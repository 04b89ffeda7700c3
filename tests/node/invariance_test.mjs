// invariance_test.mjs - `qwen3 serve` gives a greedy request the same answer whatever else it serves
// (README: Determinism). Prints "PASS name" / "FAIL name: why" lines.
//
//   node tests/node/invariance_test.mjs   with QWEN3 (the binary) and SERVE_TINY (a tiny random
//                                         checkpoint with the real vocabulary) in the environment
//
// One server, weights quantized to Q8_0 at load (the fast path's integer kernels), --parallel 16.
// The reference is a greedy request sent alone, not streamed, on a cold cache. Compared with it,
// content, finish reason and every token's logprob and top-3 logprobs (full float precision, so a
// change in the logits shows even when the greedy choice survives it), exactly: the same request again (its prefix now cached), streamed,
// 16 concurrent copies (half streamed), and the request sent while 6 others with other prompts
// arrive during its generation. Presence and frequency penalties keep the random-weight model out
// of the loops it falls into otherwise (a loop's top-1 margin is too wide for rounding to move);
// with them, the engine before batch invariance (16 copies switched every step to the bf16 GEMM,
// a cached prefix left the rest to the int8 kernels) failed all four comparisons (issue 10).
import { spawn } from 'node:child_process';

const QWEN3 = process.env.QWEN3, TINY = process.env.SERVE_TINY;
const children = [];
let failures = 0;

function check(name, ok, why) {
    if (ok) console.log(`PASS ${name}`);
    else { failures++; console.log(`FAIL ${name}: ${typeof why === 'function' ? why() : why}`); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const killAll = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); };
process.on('exit', killAll);
setTimeout(() => { console.log('FAIL invariance_test_time: over 150 s'); killAll(); process.exit(1); }, 150000).unref();

async function startServer(model, args) {
    const p = spawn(QWEN3, ['serve', model, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(p);
    let log = '';
    const port = await new Promise((res, rej) => {
        p.stderr.on('data', (d) => {
            log += d;
            const m = /listening on http:\/\/[^ ]*:(\d+)/.exec(log);
            if (m) res(Number(m[1]));
        });
        p.on('exit', (c) => rej(new Error(`server exited with ${c}: ${log}`)));
        setTimeout(() => rej(new Error(`server did not start: ${log}`)), 30000);
    });
    return `http://127.0.0.1:${port}`;
}

// One chat completion, whole or streamed; returns {content, finish, cached}.
async function ask(base, text, stream, maxTokens = 12) {
    const body = {
        model: 'tiny', messages: [{ role: 'user', content: text }], temperature: 0, max_tokens: maxTokens,
        logprobs: true, top_logprobs: 3, presence_penalty: 2, frequency_penalty: 2,
        chat_template_kwargs: { enable_thinking: false }, stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
    };
    const r = await fetch(base + '/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
    if (!stream) {
        const j = await r.json();
        return { content: j.choices[0].message.content, finish: j.choices[0].finish_reason,
            cached: j.usage.prompt_tokens_details?.cached_tokens ?? 0, lp: lpKey(j.choices[0].logprobs?.content) };
    }
    const t = await r.text();
    let content = '', finish = null, cached = 0;
    const lps = [];
    for (const ev of t.split('\n\n')) {
        if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
        const j = JSON.parse(ev.slice(6));
        if (j.usage) cached = j.usage.prompt_tokens_details?.cached_tokens ?? 0;
        const c = j.choices && j.choices[0];
        if (!c) continue;
        if (c.finish_reason) finish = c.finish_reason;
        if (c.delta && c.delta.content) content += c.delta.content;
        if (c.logprobs && c.logprobs.content) lps.push(...c.logprobs.content);
    }
    return { content, finish, cached, lp: lpKey(lps) };
}

// the logprobs of an answer as one string: per token its text, logprob and the top logprobs
const lpKey = (entries) => JSON.stringify((entries || []).map((e) => [e.token, e.logprob, e.top_logprobs.map((t) => t.logprob)]));
const same = (a, b) => a.content === b.content && a.finish === b.finish && a.lp === b.lp && a.lp.length > 2;
const show = (a, b) => `${JSON.stringify(a.content.slice(0, 60))} vs alone ${JSON.stringify(b.content.slice(0, 60))}`;

async function main() {
    if (!QWEN3 || !TINY) { console.log('FAIL invariance_env: QWEN3 and SERVE_TINY must be set'); return; }
    const base = await startServer(TINY, ['--model-name', 'tiny', '--ctx', '512', '--parallel', '16', '--quant', 'q8_0', '-t', '2']);
    const prompt = 'Write a long story about a lighthouse keeper and the sea.';
    const alone = await ask(base, prompt, false);
    if (process.env.INV_DEBUG) console.log(JSON.stringify(alone));
    check('invariance_reference_answer', alone.content.length > 0 && alone.finish === 'length' && alone.lp.length > 2,
        `empty or short answer: ${JSON.stringify(alone)}`);
    const warm = await ask(base, prompt, false);
    check('invariance_warm_prefix_equals_cold', same(warm, alone) && warm.cached > 0,
        () => `${show(warm, alone)} (cached ${warm.cached})`);
    const streamed = await ask(base, prompt, true);
    check('invariance_stream_equals_whole', same(streamed, alone), () => show(streamed, alone));
    // 16 concurrent copies, half streamed; other prompts' prefixes differ from this one's
    const copies = await Promise.all(Array.from({ length: 16 }, (_, i) => ask(base, prompt, i % 2 === 1)));
    if (process.env.INV_DEBUG) for (const c of copies) console.log(JSON.stringify(c));
    const nsame = copies.filter((c) => same(c, alone)).length;
    check('invariance_16_concurrent_copies_equal_alone', nsame === 16,
        () => `${nsame} of 16 matched; first mismatch ${show(copies.find((c) => !same(c, alone)), alone)}`);
    // arrivals while it generates: 6 other requests (other prompts, other lengths) join mid-way
    const main_ = ask(base, prompt, true, 20);
    const others = [];
    for (let i = 0; i < 6; i++) {
        await sleep(10 + 5 * i);
        others.push(ask(base, `Question ${i}: ${'why is the sky blue? '.repeat(i + 1)}`, i % 2 === 0, 4 + 2 * i));
    }
    const [mid] = await Promise.all([main_, ...others]);
    const longAlone = await ask(base, prompt, false, 20);
    check('invariance_arrivals_mid_generation_equal_alone', same(mid, longAlone), () => show(mid, longAlone));
    killAll();
}

main().then(() => process.exit(0), (e) => { console.log(`FAIL invariance_test: ${e.stack}`); killAll(); process.exit(1); });
