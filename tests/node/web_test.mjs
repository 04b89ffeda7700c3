// web_test.mjs - the web chat page of `qwen3 serve` in headless Chromium, driven over the DevTools
// protocol through a pipe (--remote-debugging-pipe; no npm package). Against a --thinker checkpoint:
//   web_page_loads        GET / is the page; it shows the served model's id
//   web_streams           a message typed and sent is answered, the text growing over several reads
//   web_thinking_apart    the reasoning sits in its own foldable block, folded once the answer starts
//                         (budget field 4: the budget forces the answer)
//   web_stop              the stop button ends a long answer at once and re-enables sending
//   web_multi_turn        the second turn sends the first turn back (the page's history)
//   web_screenshot        a PNG of the page
// Env: CHROMIUM (binary), PAGE_URL, SHOT (png path), PROFILE (a scratch directory), KEY (API key).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const chrome = spawn(process.env.CHROMIUM, ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--no-first-run", "--remote-debugging-pipe", "--user-data-dir=" + process.env.PROFILE, "about:blank"],
  { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
let stderr = "";
chrome.stderr.on("data", (d) => { stderr += d; });
const toChrome = chrome.stdio[3], fromChrome = chrome.stdio[4];
let nextId = 0, buf = Buffer.alloc(0);
const pending = new Map();
fromChrome.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  for (let i; (i = buf.indexOf(0)) >= 0;) {
    const m = JSON.parse(buf.subarray(0, i).toString());
    buf = buf.subarray(i + 1);
    const p = m.id && pending.get(m.id);
    if (!p) continue;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(JSON.stringify(m.error)));
    else p.resolve(m.result);
  }
});
function cdp(method, params = {}, sessionId) {
  return new Promise((resolve, reject) => {
    const m = { id: ++nextId, method, params };
    if (sessionId) m.sessionId = sessionId;
    pending.set(m.id, { resolve, reject });
    toChrome.write(JSON.stringify(m) + "\0");
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let fails = 0;
function check(name, ok, why) {
  console.log(ok ? "PASS " + name : "FAIL " + name + ": " + why);
  if (!ok) fails++;
}

let session;
async function js(expression) {
  const r = await cdp("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true }, session);
  if (r.exceptionDetails) throw new Error(expression + ": " + JSON.stringify(r.exceptionDetails).slice(0, 300));
  return r.result.value;
}
async function until(expr, ms, step = 20) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await js(expr)) return true;
    await sleep(step);
  }
  return false;
}
// sends text through the page's own controls; returns the lengths of the answer bubble's text seen
// while it streamed
async function sendAndWatch(text, stopAfterChars = 0) {
  await js(`(() => { const i = document.getElementById("input"); i.focus(); return true; })()`);
  await cdp("Input.insertText", { text }, session);
  await cdp("Input.dispatchKeyEvent", { type: "keyDown", key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: "\r" }, session);
  await cdp("Input.dispatchKeyEvent", { type: "keyUp", key: "Enter", code: "Enter", windowsVirtualKeyCode: 13 }, session);
  const seen = [];
  const t0 = Date.now();
  let stopped = 0;
  while (Date.now() - t0 < 60000) {
    const s = await js(`(() => { const b = [...document.querySelectorAll(".assistant")].pop();
      return b ? { n: b.textContent.length, done: b.dataset.done === "1" } : { n: 0, done: false }; })()`);
    if (!seen.length || seen[seen.length - 1] !== s.n) seen.push(s.n);
    if (s.done) break;
    if (stopAfterChars && !stopped && s.n >= stopAfterChars) {
      stopped = Date.now();
      await js(`document.getElementById("stop").click(), true`);
    }
    await sleep(15);
  }
  return { seen, stopped, stopMs: stopped ? Date.now() - stopped : 0 };
}

try {
  const { targetId } = await cdp("Target.createTarget", { url: "about:blank" });
  ({ sessionId: session } = await cdp("Target.attachToTarget", { targetId, flatten: true }));
  await cdp("Page.enable", {}, session);
  await cdp("Runtime.enable", {}, session);
  await cdp("Emulation.setDeviceMetricsOverride", { width: 900, height: 700, deviceScaleFactor: 1, mobile: false }, session);
  await cdp("Page.navigate", { url: process.env.PAGE_URL }, session);
  // the server wants a key: type it in the page's field (kept in localStorage), then reload
  if (process.env.KEY) {
    await until(`document.readyState === "complete" && !!document.getElementById("key")`, 15000);
    await js(`(() => { const k = document.getElementById("key"); k.value = ${JSON.stringify(process.env.KEY)};
      k.dispatchEvent(new Event("change")); return true; })()`);
    await cdp("Page.reload", {}, session);
    await sleep(200);
  }
  const loaded = await until(`document.readyState === "complete" && document.getElementById("model") &&
                              document.getElementById("model").textContent.length > 0`, 15000);
  check("web_page_loads", loaded && (await js(`document.title`)) === "qwen3 chat",
        "title '" + (await js(`document.title`)) + "', model '" + (await js(`document.getElementById("model") && document.getElementById("model").textContent`)) + "'");

  // turn 1: thinking with a budget of 4 tokens, then the answer
  await js(`document.getElementById("budget").value = "4"; document.getElementById("maxtok").value = "40"; true`);
  const t1 = await sendAndWatch("Why is the sky blue?");
  const r1 = await js(`(() => { const b = [...document.querySelectorAll(".assistant")].pop();
    const d = b.querySelector("details.think");
    return { hidden: d.hidden, open: d.open, thought: d.querySelector("div").textContent,
             answer: b.querySelector(".answer").textContent, error: (b.querySelector(".error") || {}).textContent || "" }; })()`);
  const growing = t1.seen.filter((n) => n > 0).length;
  check("web_streams", growing >= 3 && r1.answer.length > 0 && !r1.error,
        `text lengths seen ${JSON.stringify(t1.seen)} (want >= 3 growing), answer '${r1.answer}', error '${r1.error}'`);
  check("web_thinking_apart", !r1.hidden && !r1.open && r1.thought.includes("hmm") && !r1.answer.includes("Considering"),
        JSON.stringify(r1).slice(0, 300));

  // turn 2: no budget, a long answer, stopped after a few characters
  await js(`document.getElementById("budget").value = ""; document.getElementById("maxtok").value = "3000"; true`);
  const t2 = await sendAndWatch("Tell me more.", 12);
  const r2 = await js(`(() => { const b = [...document.querySelectorAll(".assistant")].pop();
    return { stats: b.querySelector(".stats").textContent, send: !document.getElementById("send").disabled,
             stop: document.getElementById("stop").disabled, n: b.textContent.length }; })()`);
  check("web_stop", t2.stopped && t2.stopMs < 3000 && r2.stats.startsWith("stopped") && r2.send && r2.stop,
        `stopped ${t2.stopped ? "after " + t2.stopMs + " ms" : "never (the answer ended first)"}, stats '${r2.stats}', buttons ${r2.send}/${r2.stop}`);
  const turns = await js(`turns.map((t) => t.role + ":" + t.content.length)`);
  check("web_multi_turn", turns.length === 4 && turns[0].startsWith("user:") && turns[2].startsWith("user:"),
        JSON.stringify(turns));

  const shot = await cdp("Page.captureScreenshot", { format: "png" }, session);
  const png = Buffer.from(shot.data, "base64");
  writeFileSync(process.env.SHOT, png);
  check("web_screenshot", png.length > 2000 && png.subarray(1, 4).toString() === "PNG", `${png.length} bytes`);
} catch (e) {
  check("web_driver", false, e.message + " | chromium: " + stderr.slice(-300));
}
chrome.kill();
process.exit(0);
