// tokenizer_ref.js - Hugging Face tokenizers (npm `tokenizers`, Rust core) as the reference.
//
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR encode        stdin {"text"} -> stdout {"ids"}
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR encode-plain  the same with no added tokens
//                                                               (special-token text as plain text)
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR decode        stdin {"ids", "skip_special_tokens"}
//                                                               -> stdout {"text"}
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR bench FILE [REPEATS [lines|docs]]
//                                    encode FILE's text on one thread, MB/s: one call per line, or
//                                    per document (ended by "\x1e\n", tokenizer_cases.py docs);
//                                    the ids' checksum is bench/tokenizer_bench.c's
//
// The module comes from tests/node/node_modules (scripts/setup.sh installs it).
'use strict'
const fs = require('fs')
const path = require('path')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '..', 'node', 'package.json'))
const { Tokenizer } = req('tokenizers')

async function main() {
  const [dir, mode, file, repeats, unit] = process.argv.slice(2)
  if (!dir || !mode) {
    process.stderr.write('usage: tokenizer_ref.js TOKENIZER_DIR encode|encode-plain|decode|bench FILE\n')
    process.exit(2)
  }
  const json = path.join(dir, 'tokenizer.json')
  let tok
  if (mode === 'encode-plain') {
    const spec = JSON.parse(fs.readFileSync(json, 'utf8'))
    spec.added_tokens = []
    tok = Tokenizer.fromString(JSON.stringify(spec))
  } else {
    tok = Tokenizer.fromFile(json)
  }
  if (mode === 'bench') {
    if (unit && unit !== 'lines' && unit !== 'docs') throw new Error('bench: unit is lines or docs, not ' + unit)
    const lines = fs.readFileSync(file, 'utf8').split(unit === 'docs' ? '\x1e\n' : '\n').filter((l) => l.length > 0)
    const bytes = lines.reduce((s, l) => s + Buffer.byteLength(l, 'utf8'), 0)
    const reps = Number(repeats || 1)
    let best = Infinity
    let first = 0
    let ntok = 0
    let all = []
    for (let r = 0; r < reps; r++) {
      const t0 = process.hrtime.bigint()
      ntok = 0
      all = []
      for (const l of lines) {
        const ids = (await tok.encode(l, null, { addSpecialTokens: false })).getIds()
        ntok += ids.length
        all.push(ids)
      }
      const dt = Number(process.hrtime.bigint() - t0) / 1e9
      best = Math.min(best, dt)
      if (r === 0) first = dt
    }
    // sum = sum * 1000003 + id, modulo 2^64, over every id in order (untimed)
    const mask = (1n << 64n) - 1n
    let sum = 0n
    for (const ids of all) for (const id of ids) sum = (sum * 1000003n + BigInt(id)) & mask
    process.stdout.write(JSON.stringify({ bytes, tokens: ntok, seconds: best, mb_per_s: bytes / 1e6 / best,
      first_mb_per_s: bytes / 1e6 / first, checksum: sum.toString() }) + '\n')
    return
  }
  const input = fs.readFileSync(0, 'utf8').split('\n')
  const out = []
  for (const line of input) {
    if (!line) continue
    const o = JSON.parse(line)
    if (mode === 'decode') {
      out.push(JSON.stringify({ text: await tok.decode(o.ids, !!o.skip_special_tokens) }))
    } else {
      const enc = await tok.encode(o.text, null, { addSpecialTokens: false })
      out.push(JSON.stringify({ ids: Array.from(enc.getIds()) }))
    }
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''))
}

main().catch((e) => {
  process.stderr.write('tokenizer_ref.js: ' + (e && e.stack ? e.stack : e) + '\n')
  process.exit(1)
})
