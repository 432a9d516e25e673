// Music RAG's web page. Plain modern JavaScript, no build step; it uses the public API only.
// Data from the server is always put on the page as text (never as HTML).

const $ = (id) => document.getElementById(id);
const KEY_STORE = 'music-rag-api-key';
const SEARCH_DEBOUNCE_MS = 120;
const PAGE = 20;

// ---------- API access ----------

class ApiError extends Error {
  constructor(status, code, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORE) || '';
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h['X-API-Key'] = key;
  return h;
}

async function request(method, path, { json, body, contentType, signal, accept } = {}) {
  const init = { method, signal, headers: headers(accept ? { Accept: accept } : {}) };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    if (contentType) init.headers['Content-Type'] = contentType;
    init.body = body;
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function errorOf(res) {
  let code = '', message = '', field = null;
  try {
    const e = (await res.json()).error || {};
    code = e.code || '';
    message = e.message || '';
    field = e.field || null;
  } catch { /* not JSON: the status says enough */ }
  return new ApiError(res.status, code, message, field, res.headers.get('Retry-After'));
}

const api = {
  json: async (method, path, json, signal) => (await request(method, path, { json, signal })).json(),
  get: async (path, signal) => (await request('GET', path, { signal })).json(),
};

/** A message a person can act on, for any failure. */
function explain(err) {
  if (err instanceof ApiError) {
    const detail = err.message ? `: ${err.field ? err.field + ' ' : ''}${err.message}` : '';
    switch (err.status) {
      case 401: return 'This server needs an API key. Enter one under "API key" at the top.';
      case 403: return `Your API key may not do this${detail}. Writing needs a key with write scope.`;
      case 413: return `Too large${detail}.`;
      case 429: return `Too many requests; try again in ${err.retryAfter || 'a few'} seconds.`;
      case 503: return `The server is busy or not ready; try again in ${err.retryAfter || 'a few'} seconds.`;
      case 507: return `The server's disk is full; nothing was saved${detail}.`;
      default:
        if (err.status >= 500) return `The server failed (${err.status}); try again. ${err.message || ''}`.trim();
        return `Not accepted (${err.status})${detail}.`;
    }
  }
  if (err && err.name === 'AbortError') return '';
  return `Cannot reach the server (${err && err.message ? err.message : err}).`;
}

function notice(message) {
  const n = $('notice');
  n.textContent = message;
  n.hidden = !message;
}

// ---------- small DOM helpers ----------

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function facts(t) {
  const m = t.metadata || {};
  const parts = [];
  if (m.genre) parts.push(m.subgenre ? `${m.genre} / ${m.subgenre}` : m.genre);
  if (m.tempo) parts.push(`${Math.round(m.tempo)} bpm`);
  if (m.key) parts.push(m.key);
  if (m.time_signature) parts.push(m.time_signature);
  if (t.year) parts.push(String(t.year));
  if (m.mood && m.mood.length) parts.push(m.mood.slice(0, 3).join(', '));
  if (m.instrumentation && m.instrumentation.length) parts.push(m.instrumentation.slice(0, 4).join(', '));
  if (m.is_live_performance) parts.push('live');
  if (m.duration) parts.push(duration(m.duration));
  return parts.join(' · ');
}

function duration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const hasAudio = (t) => Boolean(t.audio_path);

// ---------- tabs ----------

const TABS = ['search', 'library', 'ask', 'playlist', 'catalog'];
function showTab(name, focus = false) {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    const on = t === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === 'catalog') loadCatalog();
  if (name === 'library' && !library.loaded) loadAlbums();
  history.replaceState(null, '', `#${name}`);
}

function setupTabs() {
  TABS.forEach((name, i) => {
    const tab = $(`tab-${name}`);
    tab.addEventListener('click', () => showTab(name));
    tab.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (step) {
        e.preventDefault();
        showTab(TABS[(i + step + TABS.length) % TABS.length], true);
      }
    });
  });
  const start = location.hash.slice(1);
  showTab(TABS.includes(start) ? start : 'search');
}

// ---------- API key ----------

function setupKey() {
  const state = $('key-state');
  const show = () => { state.textContent = apiKey() ? 'A key is in use for this tab.' : 'No key in use.'; };
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $('api-key').value.trim();
    if (v) sessionStorage.setItem(KEY_STORE, v); else sessionStorage.removeItem(KEY_STORE);
    $('api-key').value = '';
    show();
    notice('');
    overview = null;
    runSearch();
  });
  $('key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    show();
  });
  show();
}

// ---------- search ----------

const search = {
  controller: null,
  timer: null,
  topK: PAGE,
  parsed: null,      // what the server read from the words of the last typed query
  edited: null,      // {text, filters, preferences} once a parsed chip was removed
  conversation: null, // what /v1/search returned to refine its results with /v1/ask
  refined: false,     // the results shown are a refinement of the search, not the search
  positive: [],      // [{id, title}] "more like this"
  negative: [],      // [{id, title}] "less like this"
  hits: [],
};

function facetFilters() {
  const f = {};
  const one = (id, field) => { const v = $(id).value; if (v) f[field] = [v]; };
  one('f-genre', 'genres');
  one('f-mood', 'moods');
  one('f-instrument', 'instruments');
  one('f-key', 'keys');
  const range = (a, b) => {
    const min = $(a).value === '' ? null : Number($(a).value);
    const max = $(b).value === '' ? null : Number($(b).value);
    return min === null && max === null ? null : { min, max };
  };
  const tempo = range('f-tempo-min', 'f-tempo-max');
  if (tempo) f.tempo = tempo;
  const year = range('f-year-min', 'f-year-max');
  if (year) f.year = { min: year.min === null ? null : Math.round(year.min), max: year.max === null ? null : Math.round(year.max) };
  if ($('f-live').value) f.live = $('f-live').value === 'true';
  return f;
}

/** Two filters as one: lists joined, ranges and flags from `b` when set there. */
function mergeFilters(a = {}, b = {}) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (Array.isArray(v)) out[k] = [...new Set([...(out[k] || []), ...v])];
    else if (v !== null && v !== undefined) out[k] = v;
  }
  return out;
}

function scheduleSearch() {
  clearTimeout(search.timer);
  search.timer = setTimeout(runSearch, SEARCH_DEBOUNCE_MS);
}

async function runSearch() {
  clearTimeout(search.timer);
  if (search.controller) search.controller.abort();
  const controller = new AbortController();
  search.controller = controller;
  const text = $('q').value.trim();
  const facets = facetFilters();
  const status = $('search-status');
  try {
    let hits, summary = '', emptyReason = '';
    if (search.positive.length) {
      // Typed words join the examples: words that compare ("calmer") steer the
      // recommendations, and the words' own search is fused with them by rank.
      const [resp, words] = await Promise.all([
        api.json('POST', '/v1/recommend', {
          positive: search.positive.map((t) => t.id),
          negative: search.negative.map((t) => t.id),
          filters: facets,
          top_k: 100,
          ...(text ? { text } : {}),
        }, controller.signal),
        text ? api.json('POST', '/v1/search', { text, filters: facets, top_k: 100 }, controller.signal) : null,
      ]);
      hits = resp.hits;
      if (words && words.hits.length) {
        const fused = new Map();
        const add = (list, weight) => list.forEach((h, i) => {
          const e = fused.get(h.track.id) || { hit: h, score: 0 };
          e.score += weight / (60 + i);
          fused.set(h.track.id, e);
        });
        const seeds = new Set(search.positive.map((t) => t.id));
        add(hits, 1);
        add(words.hits.filter((h) => !seeds.has(h.track.id)), 1);
        hits = [...fused.values()].sort((a, b) => b.score - a.score).map((e) => e.hit);
      }
      hits = hits.slice(0, search.topK);
      summary = 'Tracks like the ones marked "more like this"' + (search.negative.length ? ', unlike those marked "less like this"' : '')
        + (text ? `, and fitting "${text}".` : '.');
    } else if (!text && !Object.keys(facets).length) {
      search.parsed = null;
      search.edited = null;
      renderChips();
      renderHits([]);
      status.textContent = 'Describe the music you want, or pick filters.';
      $('search-summary').textContent = '';
      return;
    } else {
      const body = search.edited
        ? { text: search.edited.text, parse: false, filters: mergeFilters(search.edited.filters, facets), preferences: search.edited.preferences, top_k: search.topK }
        : { text, filters: facets, top_k: search.topK };
      if (!body.text) body.text = '';
      const started = performance.now();
      const resp = await api.json('POST', '/v1/search', body, controller.signal);
      if (!search.edited) search.parsed = resp.parsed;
      search.conversation = resp.conversation;
      hits = resp.hits;
      summary = resp.summary ? resp.summary.text : '';
      emptyReason = resp.empty_reason || '';
      if (!hits.length && resp.relaxed) {
        // No track passes some filter at all: offer the results without it, said plainly.
        hits = resp.relaxed.hits;
        summary = `No track has ${resp.relaxed.dropped.join(', nor ')}; these are the results without that filter.`;
      }
      document.body.dataset.searchMs = String(Math.round(performance.now() - started));
    }
    if (controller !== search.controller) return;
    if (search.positive.length) search.conversation = null;
    search.refined = false;
    showRefine();
    const unwanted = new Set(search.negative.map((t) => t.id));
    search.hits = search.positive.length ? hits : hits.filter((h) => !unwanted.has(h.track.id));
    renderChips();
    renderHits(search.hits);
    $('search-summary').textContent = summary;
    status.textContent = search.hits.length
      ? `${search.hits.length} track${search.hits.length === 1 ? '' : 's'}`
      : `No tracks match${emptyReason ? ': ' + emptyReason : '.'}`;
    $('more').hidden = hits.length < search.topK || search.topK >= 100;
    // What the page shows results for (tests and the latency benchmark wait on it).
    document.body.dataset.shown = text;
    notice('');
  } catch (err) {
    if (err.name === 'AbortError') return;
    status.textContent = '';
    notice(explain(err));
  }
}

function filterChips(filters, soft) {
  const chips = [];
  if (!filters) return chips;
  const label = soft ? 'prefer ' : '';
  const lists = [['genres', 'genre'], ['tags', 'tag'], ['moods', 'mood'], ['instruments', 'instrument'],
    ['exclude_instruments', 'without'], ['origins', 'origin'], ['eras', 'era'], ['keys', 'key'], ['time_signatures', 'time']];
  for (const [field, name] of lists) {
    const values = filters[field] || [];
    if (!values.length) continue;
    if (soft) {
      chips.push({ text: `${label}${name}: ${values.slice(0, 3).join(', ')}${values.length > 3 ? '…' : ''}`, soft, remove: (f) => { f[field] = []; } });
    } else {
      for (const v of values) chips.push({ text: `${name}: ${v}`, soft, remove: (f) => { f[field] = f[field].filter((x) => x !== v); } });
    }
  }
  const range = (field, unit) => {
    const r = filters[field];
    if (!r || (r.min == null && r.max == null)) return;
    const text = r.min != null && r.max != null ? `${r.min}–${r.max}` : r.min != null ? `≥ ${r.min}` : `≤ ${r.max}`;
    chips.push({ text: `${label}${field} ${text}${unit}`, soft, remove: (f) => { f[field] = null; } });
  };
  range('tempo', ' bpm');
  range('year', '');
  if (filters.mode) chips.push({ text: `${label}${filters.mode} key`, soft, remove: (f) => { f.mode = null; } });
  if (filters.live !== null && filters.live !== undefined) chips.push({ text: `${label}${filters.live ? 'live' : 'studio'}`, soft, remove: (f) => { f.live = null; } });
  return chips;
}

function renderChips() {
  const box = $('chips');
  clear(box);
  const chip = (text, cls, onRemove, what) => el('span', { class: `chip ${cls}` }, text,
    el('button', { type: 'button', 'aria-label': `Remove ${what || text}`, title: 'Remove', onclick: onRemove }, '×'));
  const current = search.edited || (search.parsed && { text: search.parsed.text, filters: search.parsed.filters, preferences: search.parsed.preferences });
  if (current && !search.positive.length) {
    for (const [soft, key] of [[false, 'filters'], [true, 'preferences']]) {
      for (const c of filterChips(current[key], soft)) {
        box.append(chip(c.text, soft ? 'soft' : '', () => {
          const next = structuredClone(current);
          c.remove(next[key]);
          search.edited = next;
          runSearch();
          $('q').focus();
        }));
      }
    }
  }
  for (const t of search.positive) box.append(chip(`more like: ${t.title}`, '', () => { search.positive = search.positive.filter((x) => x.id !== t.id); runSearch(); }, `more like ${t.title}`));
  for (const t of search.negative) box.append(chip(`less like: ${t.title}`, 'negative', () => { search.negative = search.negative.filter((x) => x.id !== t.id); runSearch(); }, `less like ${t.title}`));
}

function whyLine(why) {
  if (!why) return null;
  const line = el('p', { class: 'why' });
  const terms = (why.matched_terms || []).filter((w) => w);
  const summary = why.summary || '';
  if (!terms.length) {
    line.textContent = summary;
    return line;
  }
  // The words that matched are marked where the summary names them.
  const escaped = terms.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`\\b(${escaped.join('|')})\\b`, 'gi');
  let last = 0;
  for (const m of summary.matchAll(pattern)) {
    line.append(summary.slice(last, m.index), el('mark', { text: m[0] }));
    last = m.index + m[0].length;
  }
  line.append(summary.slice(last));
  return line;
}

// What the sound model heard in the recording, each word with its confidence, shown apart from
// the catalog's own facts so a heard "piano" is never mistaken for a tagged one.
function heardLine(t) {
  const heard = (t.audio && t.audio.heard) || [];
  if (!heard.length) return null;
  return el('p', { class: 'heard', title: 'Heard in the recording by the sound model, with its confidence' },
    'Heard: ',
    ...heard.slice(0, 6).map((h) => el('span', { class: `heard-word ${h.aspect}`, text: `${h.word} ${Math.round(h.confidence * 100)}%` })));
}

// MusicCaps rows are ten-second clip descriptions without audio: said so wherever listed.
function kindBadge(t) {
  if (String(t.id).startsWith('musiccaps:')) return el('span', { class: 'badge', title: 'A MusicCaps caption of a 10-second clip; there is no audio to play', text: 'clip description · 10 s · no audio' });
  return null;
}

function trackCard(t, { why, score, actions = true } = {}) {
  const whyBox = why ? el('details', { class: 'why-box' }, el('summary', { text: 'Why this result' }), whyLine(why)) : null;
  const li = el('li', { class: 'hit', 'data-id': t.id },
    el('h3', {}, t.title || t.id, ' ', el('span', { class: 'artist', text: `— ${t.artist || 'unknown artist'}` }), kindBadge(t)),
    el('p', { class: 'facts', text: facts(t) }),
    heardLine(t),
    whyBox,
  );
  if (score !== undefined) li.dataset.score = String(score);
  if (actions) {
    li.append(el('div', { class: 'actions' },
      hasAudio(t) ? el('button', { type: 'button', onclick: () => playNow(t), 'aria-label': `Play ${t.title}` }, '▶ Play') : null,
      hasAudio(t) ? el('button', { type: 'button', onclick: () => playNext(t), 'aria-label': `Play next: ${t.title}` }, 'Play next') : null,
      hasAudio(t) ? el('button', { type: 'button', onclick: () => addToQueue(t), 'aria-label': `Add to queue: ${t.title}` }, 'Add to queue') : null,
      el('button', { type: 'button', onclick: () => refine(t, true), 'aria-label': `More like this: ${t.title}` }, 'More like this'),
      el('button', { type: 'button', onclick: () => refine(t, false), 'aria-label': `Less like this: ${t.title}` }, 'Less like this'),
      el('button', { type: 'button', onclick: () => addSeed(t), 'aria-label': `Seed a playlist: ${t.title}` }, 'Seed a playlist'),
    ));
  }
  return li;
}

function renderHits(hits) {
  const list = $('results');
  clear(list);
  for (const h of hits) list.append(trackCard(h.track, { why: h.why, score: h.score }));
}

/** The refine box shows while there are searched results to refine. */
function showRefine() {
  const c = search.conversation;
  $('refine-form').hidden = !(c && c.sources.length) && !search.refined;
  $('refine-back').hidden = !search.refined;
}

/**
 * A follow-up of the results shown ("only the ones with piano", "calmer", "more like the
 * second one", "why the third one?"): asked of /v1/ask with the search's conversation, the
 * answer's sources shown as the results and its text as their summary.
 */
async function refineResults(words) {
  if (!search.conversation) return;
  const status = $('search-status');
  status.textContent = 'Refining…';
  try {
    const before = search.conversation;
    const resp = await api.json('POST', '/v1/ask', { text: words, previous: before, top_k: Math.min(search.topK, 20) });
    const said = resp.answer + (resp.notice ? ` ${resp.notice}` : '');
    $('refine').value = '';
    const same = resp.conversation.sources.join('\n') === before.sources.join('\n');
    if (same && resp.sources.length === 1) {
      // "why the third one?": the list stays; the track explained is marked in it.
      status.textContent = `Why "${resp.sources[0].title}"`;
      $('search-summary').textContent = said;
      const card = document.querySelector(`#results li[data-id="${CSS.escape(resp.sources[0].id)}"]`);
      if (card) {
        card.classList.add('flash');
        card.scrollIntoView({ block: 'nearest' });
      }
      notice('');
      return;
    }
    const known = new Map(search.hits.map((h) => [h.track.id, h]));
    const hits = await Promise.all(resp.sources.map(async (s) => known.get(s.id)
      || { track: await api.get(`/v1/tracks/${encodeURIComponent(s.id)}`), score: s.score }));
    search.conversation = resp.conversation;
    search.refined = true;
    search.hits = hits;
    renderHits(hits);
    $('search-summary').textContent = said;
    status.textContent = hits.length ? `${hits.length} track${hits.length === 1 ? '' : 's'}, refined by "${words}"` : `Nothing fits "${words}".`;
    $('more').hidden = true;
    showRefine();
    notice('');
  } catch (err) {
    status.textContent = '';
    notice(explain(err));
  }
}

function refine(t, more) {
  const item = { id: t.id, title: t.title || t.id };
  search.positive = search.positive.filter((x) => x.id !== t.id);
  search.negative = search.negative.filter((x) => x.id !== t.id);
  (more ? search.positive : search.negative).push(item);
  if (!more && !search.positive.length) {
    $('search-status').textContent = 'Hidden; mark a track "more like this" to steer by example.';
  }
  runSearch();
}

function setupSearch() {
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); runSearch(); });
  $('refine-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const words = $('refine').value.trim();
    if (words) refineResults(words);
  });
  $('refine-back').addEventListener('click', () => runSearch());
  $('q').addEventListener('input', () => {
    search.edited = null;
    search.topK = PAGE;
    scheduleSearch();
  });
  $('q').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { $('q').value = ''; search.edited = null; runSearch(); }
  });
  for (const id of ['f-genre', 'f-mood', 'f-instrument', 'f-key', 'f-live', 'f-tempo-min', 'f-tempo-max', 'f-year-min', 'f-year-max']) {
    $(id).addEventListener('change', () => { search.topK = PAGE; runSearch(); });
  }
  $('f-clear').addEventListener('click', () => {
    for (const id of ['f-genre', 'f-mood', 'f-instrument', 'f-key', 'f-live', 'f-tempo-min', 'f-tempo-max', 'f-year-min', 'f-year-max']) $(id).value = '';
    runSearch();
  });
  $('more').addEventListener('click', () => { search.topK = Math.min(100, search.topK + PAGE); runSearch(); });
  $('sound-file').addEventListener('change', async () => {
    const file = $('sound-file').files[0];
    if (!file) return;
    const form = new FormData();
    form.append('file', file);
    form.append('top_k', String(PAGE));
    $('search-status').textContent = `Listening to ${file.name}…`;
    try {
      const resp = await (await request('POST', '/v1/search/audio', { body: form })).json();
      search.conversation = null;
      search.refined = false;
      showRefine();
      renderHits(resp.hits.map((h) => ({ track: h.track, why: { summary: `sounds ${Math.round((h.audio_similarity ?? h.score) * 100)}% alike` }, score: h.score })));
      $('search-status').textContent = `${resp.hits.length} tracks sound like ${file.name}`;
      $('search-summary').textContent = '';
      notice('');
    } catch (err) {
      $('search-status').textContent = '';
      notice(explain(err));
    }
  });
}

// ---------- player ----------

const player = { track: null, blobUrl: null };
const QUEUE_STORE = 'music-rag-queue';
// The play queue survives a reload: the tracks (what the player shows of them) and the place.
const queue = { items: [], index: -1 };

function saveQueue() {
  const keep = (t) => ({ id: t.id, title: t.title, artist: t.artist, audio_path: t.audio_path ? 'yes' : null, cover: t.cover || null, metadata: { duration: (t.metadata || {}).duration } });
  localStorage.setItem(QUEUE_STORE, JSON.stringify({ items: queue.items.map(keep), index: queue.index }));
}

function loadQueue() {
  try {
    const saved = JSON.parse(localStorage.getItem(QUEUE_STORE) || 'null');
    if (saved && Array.isArray(saved.items)) {
      queue.items = saved.items.filter((t) => t && t.id);
      queue.index = Math.min(Number(saved.index) || 0, queue.items.length - 1);
    }
  } catch { /* a damaged entry starts an empty queue */ }
  renderQueue();
  const current = queue.items[queue.index];
  if (current) showNowPlaying(current);
}

function renderQueue() {
  const list = $('queue-list');
  clear(list);
  queue.items.forEach((t, i) => {
    list.append(el('li', { class: i === queue.index ? 'current' : '' },
      el('button', { type: 'button', class: 'link', onclick: () => { queue.index = i; saveQueue(); renderQueue(); play(t); } }, `${t.title} — ${t.artist}`),
      el('button', { type: 'button', 'aria-label': `Remove ${t.title} from the queue`, onclick: () => removeFromQueue(i) }, '×')));
  });
  $('queue-summary').textContent = `Queue (${queue.items.length})`;
  $('prev').disabled = queue.index <= 0;
  $('next').disabled = queue.index >= queue.items.length - 1;
}

function removeFromQueue(i) {
  queue.items.splice(i, 1);
  if (i < queue.index) queue.index -= 1;
  queue.index = Math.min(queue.index, queue.items.length - 1);
  saveQueue();
  renderQueue();
}

/** Plays `t` now: it goes into the queue after the current track. */
function playNow(t) {
  queue.items.splice(queue.index + 1, 0, t);
  queue.index += 1;
  saveQueue();
  renderQueue();
  play(t);
}

function playNext(t) {
  queue.items.splice(queue.index + 1, 0, t);
  saveQueue();
  renderQueue();
  if (!player.track) step(1);
}

function addToQueue(t) {
  queue.items.push(t);
  saveQueue();
  renderQueue();
  if (!player.track && queue.index < 0) step(1);
}

/** Plays a whole list from its first track, replacing the queue. */
function playAll(tracks) {
  queue.items = tracks.filter(hasAudio);
  queue.index = -1;
  step(1);
}

function step(by) {
  const next = queue.index + by;
  if (next < 0 || next >= queue.items.length) return;
  queue.index = next;
  saveQueue();
  renderQueue();
  play(queue.items[next]);
}

function showNowPlaying(t) {
  $('now-playing').textContent = `${t.title} — ${t.artist}`;
  const img = $('now-cover');
  img.hidden = true;
  loadCover(img, t.cover || t.id, 96).then((ok) => { img.hidden = !ok; });
}

async function play(t) {
  const audio = $('audio');
  player.track = t;
  showNowPlaying(t);
  $('sounds-like').disabled = false;
  if (player.blobUrl) { URL.revokeObjectURL(player.blobUrl); player.blobUrl = null; }
  const url = `/v1/tracks/${encodeURIComponent(t.id)}/audio`;
  try {
    if (apiKey()) {
      // An <audio> element cannot send the key in a header, and the key never goes in a URL.
      const blob = await (await request('GET', url)).blob();
      player.blobUrl = URL.createObjectURL(blob);
      audio.src = player.blobUrl;
    } else {
      audio.src = url;
    }
    await audio.play();
    notice('');
  } catch (err) {
    if (err instanceof ApiError) notice(explain(err));
    else if (err.name !== 'AbortError') notice(`Cannot play ${t.title}: ${err.message || err}`);
  }
}

function setupPlayer() {
  $('prev').addEventListener('click', () => step(-1));
  $('next').addEventListener('click', () => step(1));
  $('audio').addEventListener('ended', () => step(1));
  $('queue-clear').addEventListener('click', () => { queue.items = []; queue.index = -1; saveQueue(); renderQueue(); });
  loadQueue();
  $('audio').addEventListener('error', () => {
    if (player.track) notice(`Cannot play ${player.track.title}: the server could not stream its file.`);
  });
  $('sounds-like').addEventListener('click', async () => {
    if (!player.track) return;
    showTab('search');
    $('search-status').textContent = `Listening for tracks like ${player.track.title}…`;
    try {
      const resp = await api.json('POST', '/v1/search/audio', { track_id: player.track.id, top_k: PAGE });
      renderHits(resp.hits.map((h) => ({ track: h.track, why: { summary: `sounds ${Math.round((h.audio_similarity ?? h.score) * 100)}% like ${player.track.title}` }, score: h.score })));
      $('search-status').textContent = `${resp.hits.length} tracks sound like ${player.track.title}`;
      $('search-summary').textContent = '';
    } catch (err) {
      $('search-status').textContent = '';
      notice(explain(err));
    }
  });
}

// ---------- library ----------

const library = { loaded: false, covers: new Map() };

/** Shows the cover of a song, album or artist in `img`; false when there is none. */
async function loadCover(img, id, size) {
  const url = `/v1/library/covers/${encodeURIComponent(id)}?size=${size}`;
  try {
    if (apiKey()) {
      // Pictures come as blobs with the key in a header, as audio does; kept for the session.
      let blobUrl = library.covers.get(url);
      if (!blobUrl) {
        const res = await fetch(url, { headers: headers() });
        if (!res.ok) return false;
        blobUrl = URL.createObjectURL(await res.blob());
        library.covers.set(url, blobUrl);
      }
      img.src = blobUrl;
      return true;
    }
    img.src = url;
    await img.decode();
    return true;
  } catch {
    return false;
  }
}

function coverOf(id, size, label) {
  const img = el('img', { class: 'cover', alt: label, loading: 'lazy', width: size, height: size });
  loadCover(img, id, size).then((ok) => {
    if (!ok) img.replaceWith(label
      ? el('div', { class: 'cover placeholder', role: 'img', 'aria-label': `${label} (no artwork)`, text: '♪' })
      : el('div', { class: 'cover placeholder', 'aria-hidden': 'true', text: '♪' }));
  });
  return img;
}

function albumCards(albums) {
  return albums.map((a) => el('li', { class: 'album-card', 'data-id': a.id },
    el('button', { type: 'button', onclick: () => showAlbum(a.id) },
      coverOf(a.id, 240, ''),
      el('span', { class: 'name', text: a.name }),
      el('span', { class: 'by', text: `${a.artist}${a.year ? ` · ${a.year}` : ''}` }))));
}

async function loadAlbums() {
  const status = $('lib-status');
  status.textContent = 'Loading albums…';
  $('lib-detail').hidden = true;
  $('lib-back').hidden = true;
  try {
    const page = await api.get(`/v1/library/albums?order=${encodeURIComponent($('lib-order').value)}&limit=200`);
    const list = $('lib-albums');
    clear(list);
    list.hidden = false;
    list.append(...albumCards(page.albums));
    status.textContent = page.total
      ? `${page.total} album${page.total === 1 ? '' : 's'}${page.total > page.albums.length ? `, the first ${page.albums.length} shown` : ''}.`
      : 'The library is empty: start the server with --music-folder DIR (or scan a folder) to see albums here.';
    library.loaded = true;
    notice('');
  } catch (err) {
    status.textContent = '';
    notice(explain(err));
  }
}

async function showAlbum(id) {
  try {
    const { album, songs } = await api.get(`/v1/library/albums/${encodeURIComponent(id)}`);
    const box = $('lib-detail');
    clear(box);
    const tracks = songs.map((t) => ({ ...t, cover: album.id }));
    box.append(
      coverOf(album.id, 480, `Cover of ${album.name}`),
      el('div', {},
        el('h2', { text: album.name }),
        el('p', {}, 'by ', el('button', { type: 'button', class: 'link', onclick: () => showArtist(album.artist_id) }, album.artist)),
        el('p', { class: 'facts', text: [album.year, album.genre, `${album.song_ids.length} songs`, duration(album.duration_seconds)].filter(Boolean).join(' · ') }),
        el('div', { class: 'row' },
          el('button', { type: 'button', onclick: () => playAll(tracks) }, '▶ Play album'),
          el('button', { type: 'button', onclick: () => tracks.filter(hasAudio).forEach(addToQueue) }, 'Add album to queue'))),
      el('ol', { class: 'results songs' }, ...tracks.map((t) => trackCard(t))));
    box.hidden = false;
    $('lib-albums').hidden = true;
    $('lib-back').hidden = false;
    $('lib-status').textContent = '';
    box.querySelector('h2').focus?.();
  } catch (err) {
    notice(explain(err));
  }
}

async function showArtist(id) {
  try {
    const { artist, albums } = await api.get(`/v1/library/artists/${encodeURIComponent(id)}`);
    const box = $('lib-detail');
    clear(box);
    box.append(
      coverOf(artist.id, 480, `Picture of ${artist.name}`),
      el('div', {},
        el('h2', { text: artist.name }),
        el('p', { class: 'facts', text: `${albums.length} album${albums.length === 1 ? '' : 's'} · ${artist.song_count} songs` })),
      el('ol', { class: 'albums songs' }, ...albumCards(albums)));
    box.hidden = false;
    $('lib-albums').hidden = true;
    $('lib-back').hidden = false;
  } catch (err) {
    notice(explain(err));
  }
}

function setupLibrary() {
  $('lib-order').addEventListener('change', loadAlbums);
  $('lib-back').addEventListener('click', () => {
    $('lib-detail').hidden = true;
    $('lib-albums').hidden = false;
    $('lib-back').hidden = true;
  });
}

// ---------- ask ----------

/** The last answer's conversation: sent back with the next question, so a follow-up refines it. */
let conversation = null;

function endConversation() {
  conversation = null;
  $('ask-thread').hidden = true;
}

async function ask(question) {
  const answer = $('answer');
  const sources = $('sources');
  clear(answer);
  clear(sources);
  answer.classList.remove('declined');
  $('sources-title').hidden = true;
  $('ask-status').textContent = 'Finding tracks…';
  let text = '';
  try {
    const body = { text: question, stream: true, top_k: 5 };
    if (conversation) body.previous = conversation;
    const res = await request('POST', '/v1/ask', { json: body, accept: 'text/event-stream' });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let done = null;
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = 'message', data = '';
        for (const line of raw.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trimStart();
        }
        if (!data) continue;
        const payload = JSON.parse(data);
        if (event === 'token') {
          text += payload.text;
          answer.textContent = text;
          $('ask-status').textContent = 'Writing…';
        } else if (event === 'restart') {
          text = '';
          answer.textContent = '';
        } else if (event === 'done') {
          done = payload;
        } else if (event === 'error') {
          throw new ApiError(422, payload.error.code, payload.error.message, payload.error.field);
        }
      }
    }
    if (done) renderAnswer(done);
    notice('');
  } catch (err) {
    $('ask-status').textContent = '';
    notice(explain(err));
  }
}

function renderAnswer(resp) {
  const answer = $('answer');
  clear(answer);
  // Citations [n] become links to their sources.
  const parts = resp.answer.split(/(\[\d+\])/);
  for (const part of parts) {
    const m = /^\[(\d+)\]$/.exec(part);
    const n = m && Number(m[1]);
    if (n && resp.sources.some((s) => s.n === n)) {
      answer.append(el('a', { class: 'cite', href: `#source-${n}`, onclick: (e) => { e.preventDefault(); flashSource(n); } }, part));
    } else {
      answer.append(part);
    }
  }
  if (!resp.grounded || (resp.missing && resp.missing.length)) answer.classList.add('declined');
  const status = [];
  if (resp.missing && resp.missing.length) status.push(`The catalog has no ${resp.missing.map((m) => `${m.kind} "${m.name}"`).join(', ')}.`);
  if (!resp.grounded) status.push('Nothing in the catalog answers this; the answer says so.');
  if (resp.fallback) status.push(`Written offline: ${resp.fallback.reason}`);
  if (resp.notice) status.push(resp.notice);
  status.push(`Answer by ${resp.generator}.`);
  conversation = resp.conversation && resp.conversation.sources.length ? resp.conversation : null;
  $('ask-thread').hidden = !conversation;
  $('ask-status').textContent = status.join(' ');
  const list = $('sources');
  clear(list);
  $('sources-title').hidden = !resp.sources.length;
  for (const s of resp.sources) {
    const cited = resp.cited.includes(s.n);
    list.append(el('li', { id: `source-${s.n}`, tabindex: '-1', 'data-id': s.id },
      `[${s.n}] `, el('strong', { text: s.title }), ` — ${s.artist}`, cited ? ' (cited)' : '',
      ' ', el('button', { type: 'button', onclick: () => showTrack(s.id) }, 'Show'),
    ));
  }
}

function flashSource(n) {
  const item = $(`source-${n}`);
  if (!item) return;
  item.classList.add('flash');
  item.focus();
  setTimeout(() => item.classList.remove('flash'), 1500);
}

async function showTrack(id) {
  try {
    const t = await api.get(`/v1/tracks/${encodeURIComponent(id)}`);
    search.positive = [];
    search.negative = [];
    search.hits = [{ track: t }];
    search.conversation = null;
    search.refined = false;
    showRefine();
    showTab('search');
    renderChips();
    renderHits(search.hits);
    $('search-status').textContent = `Track ${t.title}`;
    $('search-summary').textContent = t.description || '';
  } catch (err) {
    notice(explain(err));
  }
}

function setupAsk() {
  $('ask-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('question').value.trim();
    if (q) ask(q);
  });
  $('ask-new').addEventListener('click', () => {
    endConversation();
    $('question').value = '';
    $('question').focus();
  });
}

// ---------- playlists ----------

const playlist = { seeds: [], entries: [], title: '', request: null };

function addSeed(t) {
  if (!playlist.seeds.some((s) => s.id === t.id)) playlist.seeds.push({ id: t.id, title: t.title || t.id });
  renderSeeds();
  $('search-status').textContent = `${t.title} is a playlist seed (${playlist.seeds.length}).`;
}

function renderSeeds() {
  const box = $('pl-seeds');
  $('pl-path').disabled = playlist.seeds.length !== 2;
  clear(box);
  for (const s of playlist.seeds) {
    box.append(el('span', { class: 'chip' }, `seed: ${s.title}`,
      el('button', { type: 'button', 'aria-label': `Remove seed ${s.title}`, onclick: () => { playlist.seeds = playlist.seeds.filter((x) => x.id !== s.id); renderSeeds(); } }, '×')));
  }
}

async function makePlaylist() {
  const prompt = $('pl-prompt').value.trim();
  const byMinutes = document.querySelector('input[name=pl-by]:checked').value === 'minutes';
  const body = { seed_ids: playlist.seeds.map((s) => s.id) };
  if (prompt) body.text = prompt;
  if (byMinutes) body.minutes = Number($('pl-minutes').value); else body.length = Number($('pl-count').value);
  $('pl-status').textContent = 'Choosing and ordering tracks…';
  try {
    const p = await api.json('POST', '/v1/playlist', body);
    playlist.entries = p.entries;
    playlist.title = p.title;
    playlist.request = body;
    $('pl-save-name').value = p.title;
    renderPlaylist();
    notice('');
  } catch (err) {
    $('pl-status').textContent = '';
    notice(explain(err));
  }
}

function playlistStatus() {
  const seconds = playlist.entries.reduce((s, e) => s + (e.track.metadata.duration || 0), 0);
  const unknown = playlist.entries.filter((e) => !e.track.metadata.duration).length;
  const playable = playlist.entries.filter((e) => hasAudio(e.track)).length;
  $('pl-status').textContent = `${playlist.entries.length} tracks, ${Math.round(seconds / 60)} minutes${unknown ? ` + ${unknown} of unknown length` : ''}; ${playable} with audio.`;
}

function renderPlaylist() {
  const list = $('pl-list');
  clear(list);
  playlist.entries.forEach((e, i) => {
    const t = e.track;
    const li = el('li', { draggable: 'true', 'data-id': t.id },
      el('span', { class: 'handle', 'aria-hidden': 'true', text: '⋮⋮' }),
      el('span', { class: 'pos', text: String(i + 1) }),
      el('span', { class: 'grow' }, el('strong', { text: t.title }), ` — ${t.artist}`, el('br'), el('small', { class: 'facts', text: facts(t) })),
      hasAudio(t) ? el('button', { type: 'button', 'aria-label': `Play ${t.title}`, onclick: () => play(t) }, '▶') : null,
      el('button', { type: 'button', 'aria-label': `Move ${t.title} up`, disabled: i === 0, onclick: () => move(i, i - 1) }, '↑'),
      el('button', { type: 'button', 'aria-label': `Move ${t.title} down`, disabled: i === playlist.entries.length - 1, onclick: () => move(i, i + 1) }, '↓'),
      el('button', { type: 'button', 'aria-label': `Remove ${t.title}`, onclick: () => { playlist.entries.splice(i, 1); renderPlaylist(); } }, '✕'),
    );
    li.addEventListener('dragstart', (ev) => { ev.dataTransfer.setData('text/plain', String(i)); li.classList.add('dragging'); });
    li.addEventListener('dragend', () => li.classList.remove('dragging'));
    li.addEventListener('dragover', (ev) => ev.preventDefault());
    li.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const from = Number(ev.dataTransfer.getData('text/plain'));
      if (!Number.isNaN(from)) move(from, i);
    });
    list.append(li);
  });
  $('pl-export').hidden = !playlist.entries.length;
  $('pl-chart-box').hidden = !playlist.entries.length;
  drawTempoFlow();
  playlistStatus();
}

function move(from, to) {
  if (to < 0 || to >= playlist.entries.length || from === to) return;
  const [e] = playlist.entries.splice(from, 1);
  playlist.entries.splice(to, 0, e);
  renderPlaylist();
  const button = $('pl-list').children[to]?.querySelector(`button[aria-label^="Move"]`);
  if (button && document.activeElement === document.body) button.focus();
}

/** Tempo along the playlist; red rings where the key does not mix with the one before. */
function drawTempoFlow() {
  const chart = $('pl-chart');
  for (const n of [...chart.childNodes]) if (n.nodeName !== 'title') chart.removeChild(n);
  const entries = playlist.entries;
  const width = chart.clientWidth || 600, height = 180, pad = 30;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const tempos = entries.map((e) => e.track.metadata.tempo).filter((t) => t);
  if (!tempos.length) {
    chart.append(svg('text', { x: pad, y: height / 2 }, 'No track here has a known tempo.'));
    return;
  }
  const lo = Math.floor(Math.min(...tempos) / 10) * 10, hi = Math.ceil(Math.max(...tempos) / 10) * 10 || lo + 10;
  const x = (i) => pad + (entries.length === 1 ? 0 : (i * (width - 2 * pad)) / (entries.length - 1));
  const y = (bpm) => height - pad - ((bpm - lo) / Math.max(1, hi - lo)) * (height - 2 * pad);
  chart.append(svg('text', { x: 2, y: y(hi) + 4 }, String(hi)), svg('text', { x: 2, y: y(lo) + 4 }, String(lo)));
  let path = '';
  let prevKey = null;
  entries.forEach((e, i) => {
    const bpm = e.track.metadata.tempo;
    if (!bpm) return;
    path += `${path ? 'L' : 'M'}${x(i).toFixed(1)},${y(bpm).toFixed(1)}`;
  });
  chart.append(svg('path', { d: path, fill: 'none', stroke: '#0b5cad', 'stroke-width': 2 }));
  entries.forEach((e, i) => {
    const bpm = e.track.metadata.tempo;
    const key = e.track.metadata.key;
    const clash = i > 0 && e.transition && e.transition.keys_compatible === false;
    if (bpm) {
      const dot = svg('circle', { cx: x(i), cy: y(bpm), r: clash ? 6 : 4, fill: clash ? '#fff' : '#0b5cad', stroke: clash ? '#b42318' : '#0b5cad', 'stroke-width': 2 });
      dot.append(svg('title', {}, `${i + 1}. ${e.track.title}: ${Math.round(bpm)} bpm${key ? ', ' + key : ''}`));
      chart.append(dot);
    }
    if (key && key !== prevKey) chart.append(svg('text', { x: x(i) - 8, y: height - 8 }, key.replace(' major', '').replace(' minor', 'm')));
    if (key) prevKey = key;
  });
}

async function exportPlaylist(format) {
  const ids = playlist.entries.map((e) => e.track.id);
  try {
    const res = await request('POST', `/v1/playlist?format=${format}`, { json: { tracks: ids, title: playlist.title } });
    const blob = await res.blob();
    const leftOut = Number(res.headers.get('X-Playlist-Left-Out') || 0);
    $('pl-status').textContent = leftOut
      ? `The M3U holds the ${ids.length - leftOut} tracks that have audio; ${leftOut} without an audio file were left out (the JSPF lists every track).`
      : `Downloaded ${format.toUpperCase()} with ${ids.length} tracks.`;
    const a = el('a', { href: URL.createObjectURL(blob), download: `${(playlist.title || 'playlist').replace(/[^\w -]+/g, '').trim() || 'playlist'}.${format}` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (err) {
    notice(explain(err));
  }
}

/** A path from the first seed to the second, each step a small move in sound and meaning,
 * drawn on the tempo chart like a playlist. */
async function makePath() {
  if (playlist.seeds.length !== 2) return;
  const [from, to] = playlist.seeds;
  const length = Math.max(2, Math.min(50, Number($('pl-count').value) || 8));
  $('pl-status').textContent = `Finding a path from ${from.title} to ${to.title}…`;
  try {
    const p = await api.json('POST', '/v1/playlist/path', { from: from.id, to: to.id, length });
    playlist.entries = p.entries;
    playlist.title = p.title;
    // A path is not a rule a saved playlist can remake.
    playlist.request = null;
    renderPlaylist();
    notice('');
  } catch (err) {
    $('pl-status').textContent = '';
    notice(explain(err));
  }
}

// ---------- saved playlists ----------

function showSaved(saved) {
  playlist.entries = saved.playlist.entries;
  playlist.title = saved.name;
  playlist.request = saved.rule;
  renderPlaylist();
}

async function loadSaved() {
  const list = $('pl-saved');
  try {
    const { playlists } = await api.get('/v1/playlists');
    clear(list);
    for (const p of playlists) {
      const act = (label, what, run) => el('button', { type: 'button', 'aria-label': `${what} ${p.name}`, onclick: run }, label);
      list.append(el('li', { 'data-id': String(p.id) },
        el('span', { class: 'grow', text: `${p.name}: ${p.tracks} tracks, made ${(p.refreshed_at || '').slice(0, 16).replace('T', ' ')}` }),
        act('Open', 'Open', async () => { try { showSaved(await api.get(`/v1/playlists/${p.id}`)); } catch (err) { notice(explain(err)); } }),
        act('Refresh', 'Refresh', async () => {
          try {
            const fresh = await api.json('POST', `/v1/playlists/${p.id}/refresh`);
            showSaved(fresh);
            $('pl-saved-status').textContent = `${fresh.name} made again${fresh.avoided ? `, without ${fresh.avoided} played this week` : ''}.`;
            loadSaved();
          } catch (err) { notice(explain(err)); }
        }),
        act('Delete', 'Delete', async () => {
          try { await request('DELETE', `/v1/playlists/${p.id}`); loadSaved(); } catch (err) { notice(explain(err)); }
        })));
    }
    // Only the empty list speaks here; what an action did (saved, refreshed) stays said.
    if (!playlists.length) $('pl-saved-status').textContent = 'None yet: make a playlist, then save it.';
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) notice(explain(err));
  }
}

async function savePlaylist() {
  const name = $('pl-save-name').value.trim();
  if (!name) { notice('Give the playlist a name to save it.'); return; }
  if (!playlist.request) { notice('Make a playlist from a theme or seeds first; an edited order cannot be remade.'); return; }
  try {
    const saved = await api.json('POST', '/v1/playlists', { name, rule: playlist.request });
    $('pl-saved-status').textContent = `Saved as ${saved.name}.`;
    notice('');
    loadSaved();
  } catch (err) {
    notice(explain(err));
  }
}

function setupPlaylist() {
  $('playlist-form').addEventListener('submit', (e) => { e.preventDefault(); makePlaylist(); });
  $('pl-save').addEventListener('click', savePlaylist);
  // Typing into a length box chooses that way of measuring the length.
  for (const [box, by] of [['pl-minutes', 'minutes'], ['pl-count', 'count']]) {
    const choose = () => { document.querySelector(`input[name=pl-by][value=${by}]`).checked = true; };
    $(box).addEventListener('focus', choose);
    $(box).addEventListener('input', choose);
  }
  $('pl-path').addEventListener('click', makePath);
  $('tab-playlist').addEventListener('click', loadSaved);
  $('pl-m3u').addEventListener('click', () => exportPlaylist('m3u'));
  $('pl-jspf').addEventListener('click', () => exportPlaylist('jspf'));
}

// ---------- catalog ----------

let overview = null;

async function fetchOverview() {
  if (!overview) overview = await api.get('/v1/stats');
  return overview;
}

function fillSelect(id, items, label = (x) => `${x.name} (${x.count})`, value = (x) => x.name) {
  const select = $(id);
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const item of items) select.add(new Option(label(item), value(item)));
  select.value = keep;
}

async function loadFacets() {
  try {
    const s = await fetchOverview();
    const o = s.overview;
    fillSelect('f-genre', o.genres);
    fillSelect('f-mood', o.moods);
    fillSelect('f-instrument', o.instruments);
    fillSelect('f-key', o.keys, (k) => `${k.key} · ${k.camelot} (${k.count})`, (k) => k.key);
  } catch (err) {
    notice(explain(err));
  }
}

function bars(id, items, label, count) {
  const list = $(id);
  clear(list);
  const max = Math.max(1, ...items.map(count));
  for (const item of items.slice(0, 12)) {
    const bar = el('span', { class: 'bar', 'aria-hidden': 'true' });
    // Set through the CSSOM: the page's policy forbids style attributes.
    bar.style.width = `${(100 * count(item)) / max}%`;
    list.append(el('li', {}, el('span', { text: label(item) }), bar, el('span', { class: 'n', text: String(count(item)) })));
  }
  if (!items.length) list.append(el('li', { text: 'none yet' }));
}

async function loadCatalog() {
  try {
    overview = null;
    const s = await fetchOverview();
    const o = s.overview;
    $('cat-counts').textContent = `${s.tracks} tracks, ${o.with_audio} with audio, ${o.live} live. Model ${s.embedding_model}; ${s.backend} store.`;
    bars('cat-genres', o.genres, (x) => x.name, (x) => x.count);
    bars('cat-moods', o.moods, (x) => x.name, (x) => x.count);
    bars('cat-instruments', o.instruments, (x) => x.name, (x) => x.count);
    bars('cat-decades', o.decades, (x) => `${x.decade}s`, (x) => x.count);
    drawTempoHistogram(o.tempo);
    drawCamelot(o.keys);
  } catch (err) {
    notice(explain(err));
  }
  loadQueries();
}

/** The query log's week (admin scope): the most asked texts and those that found nothing. */
async function loadQueries() {
  const status = $('q-status');
  try {
    const r = await api.get('/v1/stats/queries?days=7&limit=10');
    if (r.mode === 'off') {
      status.textContent = 'The query log is off on this server (MUSIC_RAG_QUERY_LOG=off): nothing is kept.';
      $('q-charts').hidden = true;
      return;
    }
    status.textContent = `${r.total} searches and questions since ${r.since}: ${r.zero_results} found nothing, ${r.slow} took over ${r.slow_ms} ms.`
      + (r.mode === 'texts' ? '' : ' Texts are not kept (MUSIC_RAG_QUERY_LOG=counts); set it to texts to see them.');
    bars('q-top', r.top, (x) => x.text, (x) => x.count);
    bars('q-zero', r.zero_result_top, (x) => x.text, (x) => x.count);
    bars('q-routes', Object.entries(r.by_route).map(([name, count]) => ({ name, count })), (x) => x.name, (x) => x.count);
    $('q-charts').hidden = false;
  } catch (err) {
    $('q-charts').hidden = true;
    status.textContent = err instanceof ApiError && (err.status === 401 || err.status === 403)
      ? 'What people search for is shown to an admin key only.'
      : explain(err);
  }
}

function drawTempoHistogram(bins) {
  const chart = $('cat-tempo');
  clear(chart);
  const width = 300, height = 160, pad = 20;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  if (!bins.length) { chart.append(svg('text', { x: pad, y: height / 2 }, 'No tempos known')); return; }
  const max = Math.max(...bins.map((b) => b.count));
  const w = (width - 2 * pad) / bins.length;
  bins.forEach((b, i) => {
    const h = ((height - 2 * pad) * b.count) / max;
    const bar = svg('rect', { x: pad + i * w + 1, y: height - pad - h, width: Math.max(1, w - 2), height: h, fill: '#0b5cad' });
    bar.append(svg('title', {}, `${b.min}–${b.max} bpm: ${b.count}`));
    chart.append(bar);
  });
  chart.append(svg('text', { x: pad, y: height - 4 }, `${bins[0].min}`), svg('text', { x: width - 4, y: height - 4, 'text-anchor': 'end' }, `${bins[bins.length - 1].max} bpm`));
}

/** 12 numbers around, major keys (B) outside, minor keys (A) inside; darker = more tracks. */
function drawCamelot(keys) {
  const wheel = $('cat-keys');
  clear(wheel);
  const counts = new Map(keys.map((k) => [k.camelot, k]));
  const max = Math.max(1, ...keys.map((k) => k.count));
  const arc = (r0, r1, a0, a1) => {
    const p = (r, a) => `${(r * Math.sin(a)).toFixed(2)},${(-r * Math.cos(a)).toFixed(2)}`;
    return `M${p(r1, a0)}A${r1},${r1} 0 0 1 ${p(r1, a1)}L${p(r0, a1)}A${r0},${r0} 0 0 0 ${p(r0, a0)}Z`;
  };
  for (let n = 1; n <= 12; n++) {
    for (const [ring, r0, r1] of [['B', 70, 105], ['A', 35, 70]]) {
      const code = `${n}${ring}`;
      const k = counts.get(code);
      const a0 = ((n - 1.5) * Math.PI) / 6, a1 = ((n - 0.5) * Math.PI) / 6;
      const shade = k ? 0.15 + (0.85 * k.count) / max : 0;
      const seg = svg('path', { d: arc(r0, r1, a0, a1), fill: k ? `rgba(11,92,173,${shade.toFixed(2)})` : '#f1efe9', stroke: '#fff' });
      seg.append(svg('title', {}, k ? `${code} ${k.key}: ${k.count}` : `${code}: none`));
      wheel.append(seg);
      const mid = (a0 + a1) / 2, r = (r0 + r1) / 2;
      wheel.append(svg('text', { x: (r * Math.sin(mid)).toFixed(1), y: (-r * Math.cos(mid)).toFixed(1), fill: shade > 0.55 ? '#fff' : '#1d1b19' }, code));
    }
  }
}

function reportIngest(report) {
  const list = $('add-results');
  clear(list);
  for (const r of report.results || []) {
    const failed = r.status === 'invalid';
    list.append(el('li', { class: failed ? 'failed' : '', text: `${r.id || '(no id)'}: ${r.status}${r.message ? ' — ' + r.message : ''}` }));
  }
  $('add-status').textContent = `${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.failed} failed.`;
  overview = null;
}

/** Sends tracks (as `send` does) and shows the per-row report. */
async function importTracks(label, send) {
  $('add-status').textContent = `Adding ${label}…`;
  try {
    reportIngest(await send());
    notice('');
    loadFacets();
  } catch (err) {
    $('add-status').textContent = '';
    notice(explain(err));
  }
}

function setupCatalog() {
  $('add-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const tempo = $('add-tempo').value;
    const track = {
      id: $('add-id').value.trim(),
      title: $('add-title').value.trim(),
      artist: $('add-artist').value.trim(),
      description: $('add-description').value.trim() || null,
      metadata: { genre: $('add-genre').value.trim() || null, tempo: tempo ? Number(tempo) : null },
    };
    importTracks(track.title || 'a track', () => api.json('POST', '/v1/tracks', { tracks: [track] }));
  });
  $('add-file').addEventListener('change', async () => {
    const file = $('add-file').files[0];
    if (!file) return;
    const text = await file.text();
    const head = text.trimStart()[0];
    // The server reads CSV and JSON lines itself, reporting a bad row by its line.
    const contentType = /\.csv$/i.test(file.name) || (head !== '[' && head !== '{') ? 'text/csv'
      : head === '{' ? 'application/x-ndjson' : null;
    if (contentType) {
      importTracks(file.name, async () => (await request('POST', '/v1/tracks', { body: text, contentType })).json());
      return;
    }
    let tracks;
    try {
      tracks = JSON.parse(text);
    } catch (err) {
      notice(`${file.name} is not a JSON array of tracks: ${err.message}`);
      return;
    }
    importTracks(file.name, () => api.json('POST', '/v1/tracks', { tracks }));
  });
  $('add-audio').addEventListener('change', async () => {
    const files = [...$('add-audio').files];
    const list = $('add-results');
    clear(list);
    for (const file of files) {
      const form = new FormData();
      form.append('file', file);
      try {
        const r = await (await request('POST', '/v1/tracks/audio', { body: form })).json();
        list.append(el('li', { text: `${file.name}: ${r.status} as ${r.track ? r.track.id : r.id}` }));
        notice('');
      } catch (err) {
        list.append(el('li', { class: 'failed', text: `${file.name}: ${explain(err)}` }));
        notice(explain(err));
      }
    }
    $('add-status').textContent = `${files.length} audio file${files.length === 1 ? '' : 's'} sent.`;
    overview = null;
  });
}

// ---------- start ----------

setupTabs();
setupKey();
setupSearch();
setupPlayer();
setupLibrary();
setupAsk();
setupPlaylist();
setupCatalog();
loadFacets();
$('q').focus();
document.body.dataset.ready = 'true';
