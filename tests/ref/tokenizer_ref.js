// tokenizer_ref.js - Hugging Face tokenizers (npm `tokenizers`, Rust core) as the reference.
//
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR encode        stdin {"text"} -> stdout {"ids"}
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR encode-plain  the same with no added tokens
//                                                               (special-token text as plain text)
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR decode        stdin {"ids", "skip_special_tokens"}
//                                                               -> stdout {"text"}
//   node tests/ref/tokenizer_ref.js TOKENIZER_DIR bench FILE [REPEATS]
//                                    encode FILE's text (one call per line) on one thread, MB/s
//
// The module comes from tests/node/node_modules (scripts/setup.sh installs it).
'use strict'
const fs = require('fs')
const path = require('path')
const { createRequire } = require('module')
const req = createRequire(path.join(__dirname, '..', 'node', 'package.json'))
const { Tokenizer } = req('tokenizers')

async function main() {
  const [dir, mode, file, repeats] = process.argv.slice(2)
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
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
    const bytes = lines.reduce((s, l) => s + Buffer.byteLength(l, 'utf8'), 0)
    const reps = Number(repeats || 1)
    let best = Infinity
    let ntok = 0
    for (let r = 0; r < reps; r++) {
      const t0 = process.hrtime.bigint()
      ntok = 0
      for (const l of lines) ntok += (await tok.encode(l, null, { addSpecialTokens: false })).getIds().length
      const dt = Number(process.hrtime.bigint() - t0) / 1e9
      best = Math.min(best, dt)
    }
    process.stdout.write(JSON.stringify({ bytes, tokens: ntok, seconds: best, mb_per_s: bytes / 1e6 / best }) + '\n')
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
