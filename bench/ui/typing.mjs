// Typing-to-results latency of the web page in headless Chromium: for each query (distinct,
// so no cache helps), type it at a steady human pace (60 ms a key), then time, inside the page,
// from the last key's input event until the page shows that query's results (the 120 ms
// debounce included). Usage (bench/ui.sh runs it):
//   node bench/ui/typing.mjs BASE_URL QUERIES_FILE [N]
import { readFile } from 'node:fs/promises';
import { chromium } from '../../tests/ui/node_modules/playwright-core/index.mjs';

const [base, file, n = '40'] = process.argv.slice(2);
const queries = (await readFile(file, 'utf8')).split('\n').filter(Boolean).slice(0, Number(n));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
await page.goto(`${base}/ui`);
await page.waitForSelector('body[data-ready=true]');
// Times taken inside the page: the last input event, and when results for a query appear.
await page.evaluate(() => {
  document.querySelector('#q').addEventListener('input', () => { window.lastInput = performance.now(); });
  new MutationObserver(() => { window.shownAt = performance.now(); }).observe(document.body, { attributes: true, attributeFilter: ['data-shown'] });
});
const waits = [], server = [];
for (const q of queries) {
  await page.fill('#q', '');
  await page.type('#q', q, { delay: 60 });
  await page.waitForFunction((text) => document.body.dataset.shown === text, q, { polling: 'raf', timeout: 10000 });
  waits.push(await page.evaluate(() => window.shownAt - window.lastInput));
  server.push(Number(await page.evaluate(() => document.body.dataset.searchMs)));
}
await browser.close();
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(0)} ms, p95 ${pct(xs, 95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
console.log(JSON.stringify({ queries: queries.length, last_key_to_results: fmt(waits), request_round_trip: fmt(server), debounce_ms: 120 }));
