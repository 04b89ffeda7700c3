// serve_load.mjs - a load client for `qwen3 serve`: C concurrent clients, each streaming R chat
// completions one after another; prints one JSON line with aggregate tokens/s, time to first token
// and inter-token latency percentiles, and the error count.
//
//   node bench/serve_load.mjs --base http://127.0.0.1:8080 --model NAME --clients 4 --requests 1 --max-tokens 32
//
// Timing: TTFT is request start -> first delta carrying text (reasoning or content); inter-token
// latency is the gap between consecutive text deltas (the server sends one per engine step, so one
// per token unless the chat parser held text back). Tokens are the usage chunk's completion_tokens.
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const base = arg('base', 'http://127.0.0.1:8080'), model = arg('model', undefined);
const clients = Number(arg('clients', 1)), requests = Number(arg('requests', 1)), maxTokens = Number(arg('max-tokens', 32));
const apiKey = arg('api-key', undefined);

const pct = (xs, p) => {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function one(c, r, out) {
    const t0 = performance.now();
    const headers = { 'content-type': 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const body = {
        model, stream: true, stream_options: { include_usage: true }, max_tokens: maxTokens, seed: c * 1000 + r,
        chat_template_kwargs: { enable_thinking: false },
        messages: [{ role: 'user', content: `Client ${c}, request ${r}: tell me about the number ${c * 7919 + r * 104729}.` }],
    };
    let last = null, tokens = 0, done = false, buf = '';
    try {
        const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
        if (res.status !== 200) { out.errors.push(`HTTP ${res.status}: ${await res.text()}`); return; }
        const dec = new TextDecoder();
        for await (const chunk of res.body) {
            buf += dec.decode(chunk, { stream: true });
            let k;
            while ((k = buf.indexOf('\n\n')) >= 0) {
                const ev = buf.slice(0, k);
                buf = buf.slice(k + 2);
                if (!ev.startsWith('data: ')) continue;
                if (ev === 'data: [DONE]') { done = true; continue; }
                const j = JSON.parse(ev.slice(6));
                if (j.error) { out.errors.push(JSON.stringify(j.error)); continue; }
                if (j.usage) tokens = j.usage.completion_tokens;
                const d = j.choices?.[0]?.delta;
                if (d && (d.content || d.reasoning_content)) {
                    const now = performance.now();
                    if (last === null) out.ttft.push(now - t0);
                    else out.itl.push(now - last);
                    last = now;
                }
            }
        }
    } catch (e) { out.errors.push(String(e)); return; }
    if (!done) out.errors.push('stream ended without [DONE]');
    out.tokens += tokens;
}

const out = { ttft: [], itl: [], errors: [], tokens: 0 };
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async (_, c) => { for (let r = 0; r < requests; r++) await one(c, r, out); }));
const wall = (performance.now() - t0) / 1000;
const f = (x) => (x === null ? null : Math.round(x * 10) / 10);
console.log(JSON.stringify({
    clients, requests: clients * requests, tokens: out.tokens, wall_s: Math.round(wall * 100) / 100,
    tok_s: Math.round((out.tokens / wall) * 100) / 100,
    ttft_ms: { p50: f(pct(out.ttft, 50)), p90: f(pct(out.ttft, 90)), p99: f(pct(out.ttft, 99)) },
    itl_ms: { p50: f(pct(out.itl, 50)), p90: f(pct(out.itl, 90)), p99: f(pct(out.itl, 99)) },
    errors: out.errors.length, first_error: out.errors[0] || null,
}));
