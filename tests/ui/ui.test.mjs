// The web page end to end in headless Chromium, against real servers started by
// crates/cli/tests/ui.rs (which passes their addresses and keys in the environment):
//   OPEN_URL    a server without keys over the sample catalog plus generated audio
//   KEYED_URL   a server with keys over an empty catalog; WRITE_KEY and READ_KEY
//   SCREENSHOT_DIR where each main view's screenshot goes
//   AUDIO_TITLE a generated track with audio; AUDIO_FILE a clip to upload
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (crates/cli/tests/ui.rs runs this file)`);
  return v;
};
const OPEN = env('OPEN_URL');
const KEYED = env('KEYED_URL');
const SHOTS = env('SCREENSHOT_DIR');
const AUDIO_TITLE = env('AUDIO_TITLE');
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');

let browser;
before(async () => {
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
});
after(async () => browser && browser.close());

/** A fresh page (new context: empty session storage) with the page's errors collected. */
async function open(base = OPEN, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  // Nothing but the server itself: every request outside it is a failure.
  page.outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) page.outside.push(r.url()); });
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-ready=true]');
  return page;
}

async function done(page) {
  assert.deepEqual(page.outside, [], 'the page fetched something outside the server');
  // Refusals the tests provoke (401, 403) are logged by the browser; anything else is a defect,
  // including a violation of the page's Content-Security-Policy.
  const unexpected = page.errors.filter((e) => !/status of 40[13]/.test(e));
  assert.deepEqual(unexpected, [], 'errors in the page');
  await page.context().close();
}

const hitTitles = (page) => page.$$eval('#results li h3', (hs) => hs.map((h) => h.firstChild.textContent.trim()));
const hitIds = (page) => page.$$eval('#results li', (ls) => ls.map((l) => l.dataset.id));

async function searchFor(page, text) {
  const before = await page.$eval('#search-status', (s) => s.textContent);
  await page.fill('#q', text);
  await page.waitForFunction((prev) => {
    const s = document.querySelector('#search-status').textContent;
    return s && s !== prev && /track|No tracks/.test(s);
  }, before);
}

test('a browser asking for / gets the page; API clients keep the JSON', async () => {
  const html = await fetch(`${OPEN}/`, { headers: { Accept: 'text/html' }, redirect: 'manual' });
  assert.equal(html.status, 303);
  assert.equal(html.headers.get('location'), '/ui');
  const json = await (await fetch(`${OPEN}/`)).json();
  assert.equal(json.name, 'Music RAG');
});

test('first load is small, compressed and cached by content hash', async () => {
  const page = await open();
  const sizes = await page.evaluate(() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
    .filter((e) => e.name.includes('/ui')).map((e) => ({ name: e.name, transfer: e.transferSize, body: e.decodedBodySize, encoded: e.encodedBodySize })));
  const total = sizes.reduce((s, e) => s + e.encoded, 0);
  console.log(`first load: ${sizes.length} files, ${total} bytes compressed, ${sizes.reduce((s, e) => s + e.body, 0)} bytes uncompressed`);
  assert.ok(total < 200 * 1024, `first load ${total} bytes`);
  assert.ok(sizes.every((e) => e.encoded < e.body), 'every file is sent compressed');
  const asset = sizes.find((e) => /app\.[0-9a-f]{12}\.js$/.test(e.name));
  assert.ok(asset, 'the script is served under a hashed name');
  const res = await fetch(asset.name);
  assert.match(res.headers.get('cache-control'), /immutable/);
  await done(page);
});

test('typing a query shows fitting results, with what the parser read as chips', async () => {
  const page = await open();
  const started = Date.now();
  await page.type('#q', 'jakson five abc', { delay: 30 });
  const typed = Date.now();
  await page.waitForFunction(() => document.querySelectorAll('#results li').length > 0);
  console.log(`results ${Date.now() - typed} ms after the last key (typing took ${typed - started} ms; debug build, shared machine)`);
  const titles = await hitTitles(page);
  assert.equal(titles[0], 'ABC');
  assert.match(await page.textContent('#results li:first-child .artist'), /Jackson 5/);
  assert.match(await page.textContent('#results li:first-child .why'), /\S/);
  await page.screenshot({ path: path.join(SHOTS, 'search.png') });
  assert.deepEqual(page.errors, []);
  await done(page);
});

test('removing a parsed chip searches again without it', async () => {
  const page = await open();
  await searchFor(page, 'pop songs under 100 bpm');
  const chip = page.locator('.chip', { hasText: 'tempo ≤ 100 bpm' }).first();
  await chip.waitFor();
  const tempos = async () => page.$$eval('#results li .facts', (fs) => fs.map((f) => Number((/(\d+) bpm/.exec(f.textContent) || [])[1])).filter((n) => n));
  const limited = await tempos();
  assert.ok(limited.length > 0 && limited.every((t) => t <= 100), `tempos ${limited}`);
  const before = await hitIds(page);
  await chip.getByRole('button').click();
  await page.waitForFunction((prev) => [...document.querySelectorAll('#results li')].map((l) => l.dataset.id).join() !== prev, before.join());
  assert.equal(await page.locator('.chip', { hasText: 'tempo ≤ 100 bpm' }).count(), 0);
  assert.ok((await tempos()).some((t) => t > 100), 'without the chip faster songs come back');
  await done(page);
});

test('a filter no track passes is named, and the results without it are offered', async () => {
  const page = await open();
  await searchFor(page, 'piano music from the 1920s');
  await page.waitForFunction(() => /No track has year 1920-1929/.test(document.querySelector('#search-summary').textContent));
  assert.ok((await hitIds(page)).length > 0, 'results without the year are shown');
  assert.equal(await page.locator('.chip', { hasText: 'year 1920–1929' }).count(), 1, 'the filter stays visible as a chip');
  await done(page);
});

test('a genre filter from the catalog facets keeps only that genre', async () => {
  const page = await open();
  await page.click('#facets summary');
  await page.waitForFunction(() => document.querySelector('#f-genre').options.length > 2);
  const genre = await page.$eval('#f-genre', (s) => [...s.options].find((o) => o.value === 'rock')?.value);
  assert.equal(genre, 'rock');
  await page.fill('#q', 'songs');
  await page.selectOption('#f-genre', 'rock');
  await page.waitForFunction(() => {
    const f = [...document.querySelectorAll('#results li .facts')];
    return f.length > 0 && f.every((x) => /rock/i.test(x.textContent));
  });
  await done(page);
});

test('a track with audio plays, its time advances, and seeking works', async () => {
  const page = await open();
  const ranges = [];
  page.on('response', (r) => { if (r.url().includes('/audio') && r.status() === 206) ranges.push(r.headers()['content-range']); });
  await searchFor(page, AUDIO_TITLE);
  const card = page.locator('#results li', { hasText: AUDIO_TITLE }).first();
  // What the sound model heard shows apart from the tags, each word with its confidence.
  assert.match(await card.locator('.heard').textContent(), /^Heard: [a-z ]+ \d+%/);
  await card.getByRole('button', { name: `Play ${AUDIO_TITLE}` }).click();
  await page.waitForFunction(() => document.querySelector('#audio').currentTime > 0.3, null, { timeout: 15000 });
  assert.match(await page.textContent('#now-playing'), new RegExp(AUDIO_TITLE));
  await page.evaluate(() => { document.querySelector('#audio').currentTime = 12; });
  await page.waitForFunction(() => { const a = document.querySelector('#audio'); return a.currentTime >= 12 && !a.seeking; }, null, { timeout: 15000 });
  assert.ok(ranges.length > 0, 'the file was streamed with range requests');
  await page.screenshot({ path: path.join(SHOTS, 'player.png') });
  // Sound-alike from the playing track.
  await page.click('#sounds-like');
  await page.waitForFunction(() => /sound like/.test(document.querySelector('#search-status').textContent));
  assert.ok((await hitIds(page)).length > 0);
  // Search by sound with an uploaded clip: the same recording comes first.
  await page.setInputFiles('#sound-file', env('AUDIO_FILE'));
  await page.waitForFunction(() => /sound like clip\.ogg/.test(document.querySelector('#search-status').textContent));
  assert.equal((await hitTitles(page))[0], AUDIO_TITLE);
  await done(page);
});

test('the library shows albums with artwork; an album plays through the queue, which survives a reload', async () => {
  // The server scans its music folder at start: wait until the library holds the album.
  for (let i = 0; i < 150; i++) {
    const stats = await (await fetch(`${OPEN}/v1/stats`)).json();
    if (stats.library && !stats.library.scanning && stats.library.albums > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const page = await open();
  await page.click('#tab-library');
  const card = page.locator('.album-card', { hasText: 'Harbour Sessions' });
  await card.waitFor();
  await page.waitForFunction(() => {
    const img = document.querySelector('.album-card img.cover');
    return img && img.complete && img.naturalWidth > 0;
  });
  await page.screenshot({ path: path.join(SHOTS, 'library.png') });
  await card.getByRole('button').click();
  await page.locator('#lib-detail h2', { hasText: 'Harbour Sessions' }).waitFor();
  const songs = await page.$$eval('#lib-detail .songs li h3', (hs) => hs.map((h) => h.firstChild.textContent.trim()));
  assert.deepEqual(songs, ['Lantern Waltz', 'Harbour Lights', 'Copper Engine']);
  await page.getByRole('button', { name: '▶ Play album' }).click();
  await page.waitForFunction(() => document.querySelector('#now-playing').textContent.startsWith('Lantern Waltz'));
  assert.equal(await page.textContent('#queue-summary'), 'Queue (3)');
  await page.waitForFunction(() => { const img = document.querySelector('#now-cover'); return !img.hidden && img.naturalWidth > 0; });
  await page.click('#next');
  await page.waitForFunction(() => document.querySelector('#now-playing').textContent.startsWith('Harbour Lights'));
  // Play next puts a song right after the current one.
  await page.locator('#lib-detail .songs li', { hasText: 'Copper Engine' }).getByRole('button', { name: 'Play next: Copper Engine' }).click();
  assert.equal(await page.textContent('#queue-summary'), 'Queue (4)');
  // The artist's page lists the album.
  await page.locator('#lib-detail').getByRole('button', { name: 'The Test Ensemble' }).click();
  await page.locator('#lib-detail h2', { hasText: 'The Test Ensemble' }).waitFor();
  assert.equal(await page.locator('#lib-detail .album-card', { hasText: 'Harbour Sessions' }).count(), 1);
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.textContent('#queue-summary'), 'Queue (4)');
  assert.match(await page.textContent('#now-playing'), /^Harbour Lights/);
  const queued = await page.$$eval('#queue-list li', (ls) => ls.map((l) => l.firstChild.textContent));
  assert.match(queued[2], /^Copper Engine/);
  await done(page);
});

test('more like this and less like this steer the results and show as chips', async () => {
  const page = await open();
  await searchFor(page, 'calm acoustic guitar');
  const [first, second] = await hitIds(page);
  const firstTitle = (await hitTitles(page))[0];
  await page.locator('#results li').first().getByRole('button', { name: /^More like/ }).click();
  await page.locator('.chip', { hasText: `more like: ${firstTitle}` }).waitFor();
  await page.waitForFunction(() => /more like this/.test(document.querySelector('#search-summary').textContent));
  const liked = await hitIds(page);
  assert.ok(!liked.includes(first), 'the example itself is not a result');
  // A typed query combines with the examples instead of being ignored.
  await page.fill('#q', 'piano');
  await page.waitForFunction(() => /fitting "piano"/.test(document.querySelector('#search-summary').textContent));
  assert.equal(await page.locator('.chip', { hasText: `more like: ${firstTitle}` }).count(), 1, 'the example stays');
  assert.notDeepEqual(await hitIds(page), liked, 'the words moved the results');
  await page.fill('#q', '');
  await page.waitForFunction(() => /more like this"\.$/.test(document.querySelector('#search-summary').textContent));
  const dislikedId = (await hitIds(page))[0];
  await page.locator('#results li').first().getByRole('button', { name: /^Less like/ }).click();
  await page.locator('.chip.negative').waitFor();
  await page.waitForFunction((id) => ![...document.querySelectorAll('#results li')].some((l) => l.dataset.id === id), dislikedId);
  await page.locator('.chip', { hasText: 'more like:' }).getByRole('button').click();
  await page.waitForFunction(() => !document.querySelector('.chip:not(.negative):not(.soft)') || !/more like/.test(document.querySelector('#chips').textContent));
  assert.ok(second);
  await done(page);
});

test('an answer streams in, with citations that lead to their tracks', async () => {
  const page = await open();
  await page.click('#tab-ask');
  await page.evaluate(() => {
    window.answerSteps = 0;
    new MutationObserver((records) => { window.answerSteps += records.length; }).observe(document.querySelector('#answer'), { childList: true, characterData: true, subtree: true });
  });
  await page.fill('#question', 'what tempo is ABC by the Jackson 5?');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#answer a.cite');
  const steps = await page.evaluate(() => window.answerSteps);
  assert.ok(steps >= 3, `the answer arrived in ${steps} steps`);
  assert.match(await page.textContent('#answer'), /ABC/);
  assert.match(await page.textContent('#answer'), /bpm|BPM|tempo/i);
  await page.click('#answer a.cite');
  const focused = await page.evaluate(() => document.activeElement.id);
  assert.match(focused, /^source-\d+$/);
  assert.match(await page.textContent(`#${focused}`), /ABC/);
  await page.screenshot({ path: path.join(SHOTS, 'ask.png') });
  // A name the catalog lacks is said plainly, not answered with other songs.
  await page.fill('#question', 'what songs by Zorblax Quartet do you have?');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /no artist named/i.test(document.querySelector('#answer').textContent));
  assert.ok(await page.$eval('#answer', (a) => a.classList.contains('declined')));
  await done(page);
});

test('an answer is refined by follow-ups until a new question', async () => {
  const page = await open();
  await page.click('#tab-ask');
  await page.fill('#question', 'calm piano music');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#sources li').length > 1);
  assert.equal(await page.isHidden('#ask-thread'), false);
  const second = await page.getAttribute('#source-2', 'data-id');
  await page.fill('#question', 'more like the second one');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^Tracks like/.test(document.querySelector('#answer').textContent));
  assert.ok(!(await page.$$eval('#sources li', (l) => l.map((x) => x.dataset.id))).includes(second), 'the seed is not its own neighbour');
  const first = await page.textContent('#source-1 strong');
  await page.fill('#question', 'why that one?');
  await page.keyboard.press('Enter');
  await page.waitForFunction((t) => document.querySelector('#answer').textContent.includes(t) && document.querySelectorAll('#sources li').length === 1, first);
  await page.click('#ask-new');
  assert.equal(await page.isHidden('#ask-thread'), true);
  assert.deepEqual(page.errors, []);
  await done(page);
});

test('search results are refined by follow-ups and the search comes back', async () => {
  const page = await open();
  await searchFor(page, 'calm piano music');
  const ids = () => page.$$eval('#results li', (l) => l.map((x) => x.dataset.id));
  const searched = await ids();
  assert.ok(searched.length > 2, 'the search finds tracks');
  assert.equal(await page.isHidden('#refine-form'), false);
  assert.equal(await page.isHidden('#refine-back'), true);
  // Narrowed to the results that fit more words: a subset, said in the summary.
  await page.fill('#refine', 'only the ones with piano');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /refined by/.test(document.querySelector('#search-status').textContent));
  const summary = await page.textContent('#search-summary');
  assert.match(summary, /^(Of the previous \d+ tracks, \d+ fits? "(with )?piano"|None of the previous)/, summary);
  const narrowed = await ids();
  if (summary.startsWith('Of the previous')) assert.ok(narrowed.every((id) => searched.includes(id)), 'a narrowing keeps only searched tracks');
  assert.equal(await page.isHidden('#refine-back'), false);
  // More like one of them: new tracks, not the seed.
  const second = narrowed[1] || narrowed[0];
  await page.fill('#refine', narrowed.length > 1 ? 'more like the second one' : 'more like the first one');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^Tracks like/.test(document.querySelector('#search-summary').textContent));
  const alike = await ids();
  assert.ok(alike.length > 0 && !alike.includes(second), `the seed ${second} is not its own neighbour: ${alike} ${await page.textContent('#search-summary')}`);
  // Why one of them: the list stays, the track explained is marked and named.
  const title = await page.textContent('#results li:nth-child(1) h3');
  await page.fill('#refine', 'why the first one?');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#results li.flash');
  assert.deepEqual(await ids(), alike);
  assert.equal(await page.getAttribute('#results li.flash', 'data-id'), alike[0]);
  assert.ok(title.startsWith((await page.textContent('#search-summary')).split('"')[1]), 'the answer names the first track');
  // Back to the search's own results.
  await page.click('#refine-back');
  // The search's own results are back once the page no longer offers to go back to them (the
  // status alone cannot tell: after "why" it names no refinement either).
  await page.waitForFunction(() => document.querySelector('#refine-back').hidden);
  assert.deepEqual(await ids(), searched);
  assert.deepEqual(page.errors, []);
  await done(page);
});

test('a playlist is drawn as a tempo flow, reordered, trimmed and exported', async () => {
  const page = await open();
  // A seed with audio opens the playlist, so the M3U has a playable entry.
  await searchFor(page, AUDIO_TITLE);
  await page.locator('#results li', { hasText: AUDIO_TITLE }).first().getByRole('button', { name: /^Seed a playlist/ }).click();
  await page.click('#tab-playlist');
  await page.locator('.chip', { hasText: `seed: ${AUDIO_TITLE}` }).waitFor();
  await page.fill('#pl-prompt', 'pop songs between 90 and 140 bpm');
  await page.fill('#pl-count', '6');
  await page.click('#playlist-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#pl-list li').length === 6);
  assert.ok(await page.locator('#pl-chart circle').count() >= 2, 'tempo points are drawn');
  const order = () => page.$$eval('#pl-list li', (ls) => ls.map((l) => l.dataset.id));
  const start = await order();
  await page.locator('#pl-list li').nth(0).dragTo(page.locator('#pl-list li').nth(2));
  const dragged = await order();
  assert.notDeepEqual(dragged, start, 'dragging reorders');
  assert.deepEqual([...dragged].sort(), [...start].sort());
  await page.locator('#pl-list li').nth(1).getByRole('button', { name: /^Move .* down$/ }).click();
  await page.locator('#pl-list li').last().getByRole('button', { name: /^Remove/ }).click();
  const final = await order();
  assert.equal(final.length, 5);
  await page.screenshot({ path: path.join(SHOTS, 'playlist.png') });
  const titles = await page.$$eval('#pl-list li strong', (s) => s.map((x) => x.textContent));
  const [m3uDownload] = await Promise.all([page.waitForEvent('download'), page.click('#pl-m3u')]);
  const m3u = await readFile(await m3uDownload.path(), 'utf8');
  assert.match(m3uDownload.suggestedFilename(), /\.m3u$/);
  assert.ok(m3u.startsWith('#EXTM3U'));
  // Only playable entries: the seed with audio, and a comment counting the others.
  const entries = m3u.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(entries.length, 1, m3u);
  // It plays from this server's stream, so the file works on another device too.
  assert.match(entries[0], /^https?:\/\/[^/]+\/v1\/tracks\/[^/]+\/audio$/);
  assert.match(m3u, /# no audio: /);
  assert.match(m3u, new RegExp(`# ${final.length - 1} of ${final.length} tracks left out: they have no audio file`));
  assert.match(await page.textContent('#pl-status'), /left out/);
  const [jspfDownload] = await Promise.all([page.waitForEvent('download'), page.click('#pl-jspf')]);
  const jspf = JSON.parse(await readFile(await jspfDownload.path(), 'utf8'));
  assert.deepEqual(jspf.playlist.track.map((t) => t.title), titles);
  assert.deepEqual(jspf.playlist.track.map((t) => t.identifier[0]), final.map((id) => `music-rag:track:${id}`));
  await done(page);
});

test('a path between two seeds starts and ends at them and is drawn on the tempo chart', async () => {
  const page = await open();
  await searchFor(page, 'pop songs between 90 and 140 bpm');
  const cards = page.locator('#results li');
  const first = await cards.nth(0).locator('h3').evaluate((h) => h.firstChild.textContent.trim());
  const last = await cards.nth(3).locator('h3').evaluate((h) => h.firstChild.textContent.trim());
  await cards.nth(0).getByRole('button', { name: /^Seed a playlist/ }).click();
  await cards.nth(3).getByRole('button', { name: /^Seed a playlist/ }).click();
  await page.click('#tab-playlist');
  assert.equal(await page.isEnabled('#pl-path'), true, 'two seeds make a path possible');
  await page.fill('#pl-minutes', '30');
  assert.equal(await page.isChecked('input[name=pl-by][value=minutes]'), true, 'typing minutes selects minutes');
  await page.fill('#pl-count', '5');
  assert.equal(await page.isChecked('input[name=pl-by][value=count]'), true);
  await page.click('#pl-path');
  await page.waitForFunction(() => document.querySelectorAll('#pl-list li').length === 5);
  const titles = await page.$$eval('#pl-list li strong', (s) => s.map((x) => x.textContent));
  assert.equal(titles[0], first);
  assert.equal(titles[titles.length - 1], last);
  assert.ok(await page.locator('#pl-chart circle').count() >= 2, 'the path is drawn');
  await page.screenshot({ path: path.join(SHOTS, 'path.png') });
  await done(page);
});

test('a playlist is saved, refreshed and deleted from the page', async () => {
  const page = await open();
  await page.click('#tab-playlist');
  await page.fill('#pl-prompt', 'calm acoustic guitar');
  await page.fill('#pl-count', '6');
  await page.click('#playlist-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#pl-list li').length === 6);
  await page.fill('#pl-save-name', 'Browser mix');
  await page.click('#pl-save');
  const saved = page.locator('#pl-saved li', { hasText: 'Browser mix' });
  await saved.waitFor();
  assert.match(await saved.textContent(), /6 tracks/);
  await saved.getByRole('button', { name: 'Refresh Browser mix' }).click();
  await page.waitForFunction(() => /Browser mix made again/.test(document.querySelector('#pl-saved-status').textContent)
    || !document.querySelector('#notice').hidden);
  assert.equal(await page.isHidden('#notice'), true, await page.textContent('#notice'));
  assert.equal(await page.locator('#pl-list li').count(), 6);
  await page.locator('#pl-saved li', { hasText: 'Browser mix' }).getByRole('button', { name: 'Delete Browser mix' }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll('#pl-saved li')].some((l) => /Browser mix/.test(l.textContent)));
  await done(page);
});

test('the catalog view charts the catalog', async () => {
  const page = await open();
  await searchFor(page, 'Lantern  Waltz');
  await page.click('#tab-catalog');
  await page.waitForFunction(() => /tracks/.test(document.querySelector('#cat-counts').textContent));
  assert.match(await page.textContent('#cat-counts'), /\d+ tracks, [1-9]\d* with audio/);
  // What people search for: the week's texts (this server keeps them), normalised.
  await page.waitForFunction(() => /searches and questions since/.test(document.querySelector('#q-status').textContent));
  assert.match(await page.textContent('#q-top'), /lantern waltz/);
  assert.equal(await page.isHidden('#q-charts'), false);
  assert.ok(await page.locator('#cat-genres li').count() > 3);
  assert.equal(await page.locator('#cat-keys path').count(), 24);
  assert.ok(await page.locator('#cat-tempo rect').count() > 3);
  const widths = await page.$$eval('#cat-genres .bar', (bars) => bars.map((b) => b.getBoundingClientRect().width));
  assert.ok(widths[0] > widths[widths.length - 1], `bars scale with their counts: ${widths}`);
  await page.screenshot({ path: path.join(SHOTS, 'catalog.png') });
  assert.deepEqual(page.errors, []);
  await done(page);
});

test('with a write key a track is added through the page and then found', async () => {
  const page = await open(KEYED);
  await page.click('#tab-catalog');
  await page.waitForFunction(() => /API key/.test(document.querySelector('#notice').textContent));
  await page.click('.access summary');
  await page.fill('#api-key', env('WRITE_KEY'));
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => location.href.includes(document.querySelector('#api-key').value || '\u0000')), false);
  await page.fill('#add-id', 'ui-test-1');
  await page.fill('#add-title', 'Velvet Lighthouse');
  await page.fill('#add-artist', 'The Browser Band');
  await page.fill('#add-genre', 'dream pop');
  await page.fill('#add-tempo', '92');
  await page.click('#add-form button[type=submit]');
  await page.waitForFunction(() => /1 created/.test(document.querySelector('#add-status').textContent));
  assert.match(await page.textContent('#add-results'), /ui-test-1: created/);
  // The query log is an admin's: a write key is told so, and sees no texts.
  await page.click('#tab-search');
  await page.click('#tab-catalog');
  await page.waitForFunction(() => /admin key only/.test(document.querySelector('#q-status').textContent));
  assert.equal(await page.isHidden('#q-charts'), true);
  await page.click('#tab-search');
  await searchFor(page, 'velvet lighthouse');
  assert.equal((await hitIds(page))[0], 'ui-test-1');
  // A bad row is reported with its reason; the good one is still added.
  await page.click('#tab-catalog');
  await page.setInputFiles('#add-file', { name: 'two.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"id":"ui-test-2","title":"Paper Harbour","artist":"The Browser Band"}\n{"id":"ui-test-3","title":"","artist":"Nobody"}\n') });
  await page.waitForFunction(() => /1 created.*1 failed/.test(document.querySelector('#add-status').textContent));
  assert.match(await page.textContent('#add-results'), /invalid — title/);
  // CSV is read by the server, which names a bad row's line.
  await page.setInputFiles('#add-file', { name: 'more.csv', mimeType: 'text/csv', buffer: Buffer.from('id,title,artist,tempo,mood\nui-test-4,Salt Road,The Browser Band,101,calm;warm\nui-test-5,Broken Row,Nobody,fast,\n') });
  await page.waitForFunction(() => /1 created.*1 failed/.test(document.querySelector('#add-status').textContent) && /ui-test-4/.test(document.querySelector('#add-results').textContent));
  assert.match(await page.textContent('#add-results'), /line 3: tempo must be a number/);
  await done(page);
});

test('a read key gets a clear refusal when uploading', async () => {
  const page = await open(KEYED);
  await page.click('.access summary');
  await page.fill('#api-key', env('READ_KEY'));
  await page.keyboard.press('Enter');
  await page.click('#tab-catalog');
  await page.setInputFiles('#add-audio', env('AUDIO_FILE'));
  await page.waitForFunction(() => /write scope/.test(document.querySelector('#notice').textContent));
  assert.match(await page.textContent('#add-results'), /write scope/);
  await done(page);
});

test('keyboard only: tabs, search, refine and clear', async () => {
  const page = await open();
  await page.keyboard.press('Shift+Tab'); // from the search box back up the page
  await page.locator('#tab-search').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-library');
  assert.equal(await page.isVisible('#view-library'), true);
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Enter');
  await page.locator('#q').focus();
  await page.keyboard.type('calm piano');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#results li');
  // Tab reaches the first result's buttons, and the focus is visible there.
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => /^More like/.test(document.activeElement.getAttribute('aria-label') || ''));
  }
  assert.ok(found, 'Tab reaches "More like this"');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  await page.keyboard.press('Enter');
  await page.locator('.chip', { hasText: 'more like:' }).waitFor();
  await page.locator('#q').focus();
  await page.keyboard.press('Escape');
  assert.equal(await page.inputValue('#q'), '');
  await done(page);
});

test('no serious or critical accessibility issues in any view', async () => {
  // axe is injected into the page, which the page's own policy forbids; bypass it for the scan.
  const page = await open(OPEN, { bypassCSP: true });
  await page.addScriptTag({ path: AXE });
  await searchFor(page, 'calm piano');
  const problems = [];
  for (const view of ['search', 'library', 'ask', 'playlist', 'catalog']) {
    await page.click(`#tab-${view}`);
    if (view === 'library') await page.locator('.album-card').first().waitFor();
    if (view === 'catalog') await page.waitForFunction(() => /tracks/.test(document.querySelector('#cat-counts').textContent));
    const result = await page.evaluate(async () => axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations.filter((x) => ['serious', 'critical'].includes(x.impact))) {
      problems.push(`${view}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
    }
  }
  assert.deepEqual(problems, []);
  await done(page);
});

test('usable at phone width', async () => {
  const page = await open(OPEN, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await searchFor(page, 'calm piano');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `the page is ${overflow} px wider than the phone`);
  const box = await page.locator('#results li').first().getByRole('button', { name: /^More like/ }).boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, 'buttons fit on the screen');
  await page.screenshot({ path: path.join(SHOTS, 'phone.png') });
  await done(page);
});
