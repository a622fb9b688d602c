// app.js - the iris web UI: one search box (text, or an image dropped,
// pasted or chosen), ranking mode and type filters, a result grid with
// per-lane scores, item details with "find similar", the 2D map, and an
// answer panel (streamed, with clickable citations) when the server has a
// language model configured.
// Everything goes through the REST API (/api/openapi.json); the page
// state lives in the URL, so reload and back work.

import { MapView } from './map.js';

const $ = (id) => document.getElementById(id);
const K = 24;
const NAMES = { image: 'image', text: 'text', pdf_text: 'PDF text', pdf_figure: 'PDF figure', ocr: 'OCR', caption: 'caption' };

const state = {
  mode: 'hybrid',
  types: new Set(),
  image: null,          // {blob, url} of an image query
  similar: null,        // {id, name, thumb} of a "find similar" query
  key: sessionStorage.getItem('iris-key') || '',
  status: null,
  mapGeneration: null,
  lastResults: [],
  seq: 0,
};

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body; // the whole error object (an answer's sources come with it)
  }
}

async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  if (state.key) headers.set('Authorization', `Bearer ${state.key}`);
  let res;
  try {
    res = await fetch(path, { ...opts, headers });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Is iris serve still running?');
  }
  if (res.status === 401) askKey();
  if (!res.ok) {
    let code = 'error', message = `${res.status} ${res.statusText}`, j = null;
    if ((res.headers.get('Content-Type') || '').startsWith('application/json')) {
      j = await res.json().catch(() => null);
      if (j && j.error) ({ code, message } = j.error);
    }
    throw new ApiError(res.status, code, message, j);
  }
  return opts.raw ? res : res.json();
}

// <img src> cannot send the API key: with one, images come through fetch.
const blobs = new Map();
function setImage(img, path) {
  if (!state.key) { img.src = path; return; }
  if (!blobs.has(path)) {
    blobs.set(path, api(path, { raw: true }).then((r) => r.blob()).then((b) => URL.createObjectURL(b)));
  }
  blobs.get(path).then((u) => { img.src = u; }, () => img.classList.add('broken'));
}

function askKey() {
  const box = $('keybox');
  if (!box.open) box.showModal();
}

// --------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// Snippet with its highlights ([start, length] in code points) as <mark>s.
function snippetNode(text, highlights) {
  const chars = Array.from(text || '');
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const [start, len] of highlights || []) {
    if (start < at) continue;
    frag.append(chars.slice(at, start).join(''));
    frag.append(el('mark', { text: chars.slice(start, start + len).join('') }));
    at = start + len;
  }
  frag.append(chars.slice(at).join(''));
  return frag;
}

const fmt = (x, d = 3) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d));
const plural = (n, w) => `${n.toLocaleString()} ${w}${n === 1 ? '' : 's'}`;
const isVisual = (m) => m === 'image' || m === 'pdf_figure';

function badge(modality) {
  return el('span', { class: 'badge' }, el('i', { class: `dot m-${modality}` }), NAMES[modality] || modality);
}

function where(item) {
  return item.page ? `${item.name} · p. ${item.page}` : item.name;
}

// --------------------------------------------------------------- status

async function loadStatus() {
  const box = $('index-status');
  try {
    const s = await api('/api/status');
    state.status = s;
    if (s.state === 'opening') {
      box.textContent = 'Opening the index…';
      setTimeout(loadStatus, 1000);
      return;
    }
    if (s.state !== 'ready') {
      box.textContent = s.error || s.state;
      return;
    }
    const ix = s.index;
    box.replaceChildren(el('b', { text: ix.items.toLocaleString() }), ` items in ${plural(ix.files, 'file')}`,
      el('span', { class: 'model', text: ix.model ? `${ix.model.name} · ${ix.model.dim}-d` : 'no model yet' }));
    if (ix.model && ix.model.error) banner(`The index's model could not be loaded, so only keyword search works: ${ix.model.error}`);
    $('ask').hidden = !(s.features && s.features.answer);
    loadMap();
  } catch (e) {
    box.textContent = e.status === 401 ? 'API key needed' : e.message;
  }
}

function banner(message, kind = 'error') {
  const b = $('banner');
  b.className = `banner${kind === 'info' ? ' info' : ''}`;
  b.textContent = message;
  b.hidden = !message;
}

// ----------------------------------------------------------------- search

function setBusy(busy) {
  $('search').classList.toggle('busy', busy);
  $('go').setAttribute('aria-busy', busy ? 'true' : 'false');
}

function skeleton() {
  $('empty').hidden = true;
  const cards = [];
  for (let i = 0; i < 8; i++) {
    cards.push(el('div', { class: 'card skeleton', 'aria-hidden': 'true' },
      el('span', { class: 'media' }), el('span', { class: 'meta' }, el('div'), el('div', { class: 'short' }))));
  }
  $('grid').replaceChildren(...cards);
}

function typeParam() {
  return state.types.size ? [...state.types].join(',') : null;
}

async function run(request, describe) {
  const seq = ++state.seq;
  setBusy(true);
  banner('');
  skeleton();
  $('summary').textContent = 'Searching…';
  try {
    const r = await request();
    if (seq !== state.seq) return;
    render(r, describe);
  } catch (e) {
    if (seq !== state.seq) return;
    $('grid').replaceChildren();
    $('summary').textContent = '';
    banner(e.status === 503 ? `${e.message}. Try again in a moment.` : e.message);
  } finally {
    if (seq === state.seq) setBusy(false);
  }
}

function searchText(text) {
  const p = new URLSearchParams({ q: text, mode: state.mode, k: K });
  if (typeParam()) p.set('type', typeParam());
  return run(() => api(`/api/search?${p}`), `“${text}”`);
}

function searchImage(blob) {
  const form = new FormData();
  form.append('image', blob, blob.name || 'query-image');
  const p = new URLSearchParams({ k: K });
  if (typeParam()) p.set('type', typeParam());
  return run(() => api(`/api/search/image?${p}`, { method: 'POST', body: form }), 'your image');
}

function searchSimilar(id, name) {
  const p = new URLSearchParams({ k: K });
  if (typeParam()) p.set('type', typeParam());
  return run(() => api(`/api/items/${id}/similar?${p}`), name ? `items like ${name}` : `items like #${id}`);
}

function submit(push = true) {
  closeAnswer();
  const text = $('q').value.trim();
  if (state.image) searchImage(state.image.blob);
  else if (state.similar) searchSimilar(state.similar.id, state.similar.name);
  else if (text) searchText(text);
  else return showIntro();
  if (push) saveURL();
}

function showIntro() {
  $('grid').replaceChildren();
  $('summary').textContent = '';
  $('empty').hidden = false;
  state.lastResults = [];
  map && map.setQuery(null, []);
}

// ----------------------------------------------------------------- render

function scoreLine(hit, mode) {
  const v = hit.lanes.vector, k = hit.lanes.keyword;
  const fused = mode === 'hybrid' ? `RRF ${hit.score.toFixed(4)}` : mode === 'vector' ? `cos ${fmt(hit.score)}` : `BM25 ${fmt(hit.score, 2)}`;
  const lanes = [el('span', { class: 'fused', title: 'The score results are ordered by' }, fused)];
  if (mode === 'hybrid') {
    lanes.push(el('span', { class: v ? '' : 'off', title: 'Vector lane: rank and cosine' }, v ? `vec #${v.rank} ${fmt(v.score)}` : 'vec –'));
    lanes.push(el('span', { class: k ? '' : 'off', title: 'Keyword lane: rank and BM25' }, k ? `kw #${k.rank} ${fmt(k.score, 2)}` : 'kw –'));
  }
  return el('span', { class: 'scores' }, ...lanes);
}

function card(hit, mode) {
  const visual = isVisual(hit.modality) && hit.thumbnail;
  let top;
  if (visual) {
    const img = el('img', { alt: hit.name, loading: 'lazy', decoding: 'async' });
    setImage(img, `${hit.thumbnail}?size=256`);
    top = el('span', { class: 'media' }, img, badge(hit.modality), el('span', { class: 'rank', text: `#${hit.rank}` }));
  } else {
    top = el('span', { class: 'media' }, el('span', { class: 'textbox' }, snippetNode(hit.snippet, hit.highlights)),
      badge(hit.modality), el('span', { class: 'rank', text: `#${hit.rank}` }));
  }
  const c = el('button', { type: 'button', class: 'card', 'data-id': hit.item_id, 'aria-label': `${NAMES[hit.modality]}: ${where(hit)}, rank ${hit.rank}` },
    top, el('span', { class: 'meta' }, el('span', { class: 'name', title: hit.path, text: where(hit) }), scoreLine(hit, mode)));
  c.addEventListener('click', () => openItem(hit.item_id, hit));
  c.addEventListener('mouseenter', () => map && map.highlight(hit.item_id));
  c.addEventListener('mouseleave', () => map && map.highlight(null));
  c.addEventListener('focus', () => map && map.highlight(hit.item_id));
  return c;
}

function render(r, describe) {
  state.lastResults = r.results;
  const cand = r.mode === 'hybrid' ? ` · ${r.candidates.vector} vector + ${r.candidates.keyword} keyword candidates`
    : r.mode === 'vector' ? ' · vector lane' : ' · keyword lane';
  const n = r.results.length;
  $('summary').replaceChildren(el('b', { text: plural(n, 'result') }), ` for ${describe} · ${r.mode}${cand} · ${r.timing_ms.total.toFixed(1)} ms`);
  $('empty').hidden = true;
  if (!n) {
    $('grid').replaceChildren(el('div', { class: 'empty' }, el('h2', { text: 'Nothing found' }),
      el('p', { text: state.types.size ? 'Try removing a type filter, or describe it differently.'
        : r.mode === 'keyword' ? 'No item contains these words. Try hybrid or vector mode to search by meaning.'
          : 'Try other words, or another mode.' })));
  } else {
    $('grid').replaceChildren(...r.results.map((h) => card(h, r.mode)));
  }
  const gen = r.map ? r.map.generation : null;
  if (gen !== null && gen !== state.mapGeneration) loadMap().then(() => map.setQuery(r.map.query, r.results));
  else if (map) map.setQuery(r.map ? r.map.query : null, r.results);
}

// ----------------------------------------------------------------- detail

async function openItem(id, hit) {
  const dlg = $('detail'), body = $('detail-body');
  body.replaceChildren(el('div', { class: 'detail-info' }, el('p', { text: 'Loading…' })));
  if (!dlg.open) dlg.showModal();
  let it;
  try {
    it = await api(`/api/items/${id}`);
  } catch (e) {
    body.replaceChildren(el('div', { class: 'detail-info' }, el('h2', { id: 'detail-title', text: 'Cannot show this item' }), el('p', { text: e.message })));
    return;
  }
  let media;
  if (isVisual(it.modality) && it.thumbnail) {
    const img = el('img', { alt: it.name });
    setImage(img, `${it.thumbnail}?size=1024`);
    media = el('div', { class: 'detail-media' }, img);
  } else {
    media = el('div', { class: 'detail-media' }, el('div', { class: 'fulltext', text: it.text || '' }));
  }
  const rows = [['Type', NAMES[it.modality] || it.modality], ['File', it.path]];
  if (it.page) rows.push(['Page', String(it.page)]);
  if (it.bbox) rows.push(['Box', it.bbox.map((v) => v.toFixed(0)).join(', ')]);
  if (hit) {
    rows.push(['Score', `${hit.score.toFixed(4)} (rank ${hit.rank})`]);
    if (hit.lanes.vector) rows.push(['Vector lane', `#${hit.lanes.vector.rank} · cosine ${fmt(hit.lanes.vector.score)}`]);
    if (hit.lanes.keyword) rows.push(['Keyword lane', `#${hit.lanes.keyword.rank} · BM25 ${fmt(hit.lanes.keyword.score, 2)}`]);
  }
  rows.push(['SHA-256', `${it.sha256.slice(0, 16)}…`], ['Item', `#${it.item_id}`]);
  const kv = el('dl', { class: 'kv' });
  for (const [k, v] of rows) kv.append(el('dt', { text: k }), el('dd', { text: v }));
  const fileURL = it.page && it.file ? `${it.file}#page=${it.page}` : it.file;
  const open = el('a', { class: 'btn', href: fileURL, target: '_blank', rel: 'noopener', text: 'Open original ↗' });
  if (state.key) open.addEventListener('click', (e) => { e.preventDefault(); openBlob(it.file); });
  const actions = el('div', { class: 'actions' },
    el('button', { type: 'button', class: 'btn primary', onclick: () => findSimilar(it), text: 'Find similar' }),
    open,
    it.map ? el('button', { type: 'button', class: 'btn', onclick: () => showOnMap(it.item_id), text: 'Show on map' }) : null);
  body.replaceChildren(media, el('div', { class: 'detail-info' },
    el('h2', { id: 'detail-title', text: where(it) }), badgeRow(it), kv, actions));
  actions.querySelector('.primary').focus();
}

function badgeRow(it) {
  return el('div', {}, el('span', { class: 'badge inline' }, el('i', { class: `dot m-${it.modality}` }), NAMES[it.modality]));
}

async function openBlob(path) {
  const r = await api(path, { raw: true });
  window.open(URL.createObjectURL(await r.blob()), '_blank', 'noopener');
}

function findSimilar(it) {
  $('detail').close();
  clearImage(false);
  state.similar = { id: it.item_id, name: it.name, thumb: it.thumbnail };
  showChip(it.thumbnail ? `${it.thumbnail}?size=128` : null, `Similar to ${it.name}`);
  $('q').value = '';
  submit();
}

function showOnMap(id) {
  $('detail').close();
  setView('map');
  map.focus(id);
}

// ---------------------------------------------------------------- answers

let asking = null; // the AbortController of the answer being made

// Citations as the model writes them: [1], [1, 3], [2-4], 【1】.
const CITE = /\[(\d+(?:\s*[,;–—-]\s*\d+)*)\]|【(\d+)】/g;

function citedNumbers(group) {
  const out = [];
  for (const part of group.split(/\s*[,;]\s*/)) {
    const m = part.match(/^(\d+)\s*[–—-]\s*(\d+)$/);
    if (m) for (let n = +m[1]; n <= +m[2] && out.length < 50; n++) out.push(n);
    else out.push(+part);
  }
  return out;
}

const sourceName = (s) => s.path.split('/').pop() + (s.page ? ` · p. ${s.page}` : '');

// The answer with each citation of a source as a button that opens it.
function answerNode(text, sources) {
  const byNumber = new Map(sources.map((s) => [s.number, s]));
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const m of text.matchAll(CITE)) {
    const nums = citedNumbers(m[1] || m[2]).filter((n) => byNumber.has(n));
    if (!nums.length) continue; // a number that names no source stays plain text
    frag.append(text.slice(at, m.index));
    for (const n of nums) {
      const s = byNumber.get(n);
      frag.append(el('button', { type: 'button', class: 'cite', title: sourceName(s), 'aria-label': `Source ${n}: ${sourceName(s)}`,
        onclick: () => openItem(s.item_id) }, String(n)));
    }
    at = m.index + m[0].length;
  }
  frag.append(text.slice(at));
  return frag;
}

function sourceItems(sources) {
  return sources.map((s) => el('li', { class: s.cited ? '' : 'uncited' },
    el('button', { type: 'button', onclick: () => openItem(s.item_id), title: s.path },
      el('span', { class: 'num', text: `[${s.number}]` }), el('i', { class: `dot m-${s.modality}` }),
      el('span', { class: 'src-name', text: sourceName(s) }), el('span', { class: 'src-text', text: s.text || '' }))));
}

function answerNote(a) {
  const notes = [];
  if (a.extractive) notes.push('No language model answers here: these are the best passages, cited.');
  if (a.invalid_citations.length) notes.push(`The answer cites ${a.invalid_citations.map((n) => `[${n}]`).join(', ')}, which ${a.invalid_citations.length === 1 ? 'is' : 'are'} not among the sources.`);
  if (a.dropped) notes.push(`${plural(a.dropped, 'more source')} did not fit the model's context window.`);
  return notes.join(' ');
}

// The answer (or what arrived of it, and why it stopped) with its sources.
function showAnswer(a, error = '', partial = '') {
  const out = $('answer-text'), note = $('answer-note');
  out.classList.remove('waiting');
  if (a) out.replaceChildren(answerNode(a.answer || partial, a.sources));
  else out.textContent = partial;
  if (a && a.model) $('answer-model').textContent = a.model;
  note.classList.toggle('error', !!error);
  note.textContent = error ? `The answer stopped: ${error}` : answerNote(a);
  $('answer-sources').replaceChildren(...(a ? sourceItems(a.sources) : []));
}

// Reads Server-Sent Events from a fetch response: onEvent(name, data).
async function readEvents(res, onEvent) {
  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    for (let cut; (cut = buf.indexOf('\n\n')) >= 0; buf = buf.slice(cut + 2)) {
      const fields = {};
      for (const line of buf.slice(0, cut).split('\n')) {
        const i = line.indexOf(': ');
        if (i > 0) fields[line.slice(0, i)] = line.slice(i + 2);
      }
      if (fields.event && fields.data) onEvent(fields.event, JSON.parse(fields.data));
    }
  }
}

async function ask(text) {
  closeAnswer();
  const ctl = asking = new AbortController();
  const out = $('answer-text');
  $('answer').hidden = false;
  $('answer-model').textContent = (state.status && state.status.features.answer_model) || '';
  $('answer-note').textContent = '';
  $('answer-sources').replaceChildren();
  out.textContent = 'Finding sources and asking the model…';
  out.classList.add('waiting');
  out.setAttribute('aria-busy', 'true');
  const body = { q: text, mode: state.mode, stream: true };
  if (typeParam()) body.type = typeParam();
  let shown = '', final = null, failed = null;
  try {
    const res = await api('/api/ask', { method: 'POST', raw: true, signal: ctl.signal, body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' } });
    await readEvents(res, (name, data) => {
      if (name === 'delta') {
        shown += data.text;
        out.classList.remove('waiting');
        out.textContent = shown;
      } else if (name === 'answer') final = data;
      else if (name === 'error') failed = data;
    });
    if (final) showAnswer(final);
    else if (failed) showAnswer(failed.answer, failed.error.message, shown);
    else showAnswer(null, 'the connection was cut off', shown);
  } catch (e) {
    if (e.name !== 'AbortError') showAnswer(e.body && e.body.answer, e.message, shown);
  } finally {
    if (ctl === asking) {
      out.setAttribute('aria-busy', 'false');
      asking = null;
    }
  }
}

function closeAnswer() {
  if (asking) asking.abort();
  asking = null;
  $('answer').hidden = true;
  $('answer-text').setAttribute('aria-busy', 'false');
}

// Ask: the results and the map for the question, and the answer above them.
function askNow() {
  const text = $('q').value.trim();
  if (!text) {
    $('q').focus();
    return;
  }
  clearImage(false);
  submit();
  ask(text);
}

// ------------------------------------------------------------ image query

function showChip(src, label) {
  const img = $('query-thumb');
  img.removeAttribute('src');
  if (src && src.startsWith('blob:')) img.src = src;
  else if (src) setImage(img, src);
  img.alt = label;
  img.title = label;
  $('query-chip').hidden = false;
  $('q').placeholder = label;
  updateModes();
}

function clearImage(rerun = true) {
  if (state.image) URL.revokeObjectURL(state.image.url);
  const had = state.image || state.similar;
  state.image = null;
  state.similar = null;
  $('query-chip').hidden = true;
  $('q').placeholder = 'Describe what you are looking for, or drop an image';
  updateModes();
  if (had && rerun) submit();
}

function useImage(file) {
  if (!file || !file.type.startsWith('image/')) {
    banner(file ? `${file.name || 'That file'} is not an image.` : '');
    return;
  }
  clearImage(false);
  state.image = { blob: file, url: URL.createObjectURL(file) };
  $('q').value = '';
  showChip(state.image.url, `Image: ${file.name || 'pasted image'}`);
  submit();
}

// Image and item queries have no text: the server runs the vector lane.
function updateModes() {
  const visual = !!(state.image || state.similar);
  for (const b of $('modes').querySelectorAll('button')) b.disabled = visual;
  $('modes').title = visual ? 'Image queries are ranked by the vector lane only' : '';
}

// -------------------------------------------------------------------- URL

function saveURL() {
  const p = new URLSearchParams();
  const text = $('q').value.trim();
  if (state.similar) p.set('similar', state.similar.id);
  else if (text && !state.image) p.set('q', text);
  if (state.mode !== 'hybrid') p.set('mode', state.mode);
  if (state.types.size) p.set('type', typeParam());
  const url = p.toString() ? `?${p}` : location.pathname;
  if (url !== location.search) history.pushState(null, '', url);
}

function loadURL() {
  const p = new URLSearchParams(location.search);
  setMode(p.get('mode') || 'hybrid');
  state.types = new Set((p.get('type') || '').split(',').filter(Boolean));
  for (const b of $('types').querySelectorAll('button')) b.setAttribute('aria-pressed', String(state.types.has(b.dataset.type)));
  clearImage(false);
  $('q').value = p.get('q') || '';
  const sim = Number(p.get('similar'));
  if (sim > 0) {
    state.similar = { id: sim, name: `#${sim}` };
    showChip(null, `Similar to item #${sim}`);
    api(`/api/items/${sim}`).then((it) => {
      state.similar.name = it.name;
      showChip(it.thumbnail ? `${it.thumbnail}?size=128` : null, `Similar to ${it.name}`);
    }).catch(() => {});
  }
  submit(false);
}

// -------------------------------------------------------------------- map

let map = null;
const itemCache = new Map();

function preview(id, tip) {
  const idx = map.index.get(id), m = map.data.modalities[map.data.modality[idx]];
  tip.replaceChildren(el('div', { class: 't-name', text: `${NAMES[m] || m} #${id}` }));
  if (!itemCache.has(id)) itemCache.set(id, api(`/api/items/${id}`));
  itemCache.get(id).then((it) => {
    if (map.hoverIndex < 0 || map.data.ids[map.hoverIndex] !== id) return;
    const parts = [];
    if (isVisual(it.modality) && it.thumbnail) {
      const img = el('img', { alt: '' });
      setImage(img, `${it.thumbnail}?size=256`);
      parts.push(img);
    }
    parts.push(el('div', { class: 't-name', text: where(it) }));
    if (it.text) parts.push(el('div', { class: 't-text', text: it.text.slice(0, 300) }));
    tip.replaceChildren(...parts);
    map.placeTip(parseFloat(tip.style.left) - 14, parseFloat(tip.style.top) - 14);
  }, () => {});
}

async function loadMap() {
  try {
    const m = await api('/api/map');
    state.mapGeneration = m.generation;
    map.setData(m);
    legend(m);
  } catch (e) {
    $('map-msg').hidden = false;
    $('map-msg').textContent = e.status === 503 ? 'The map is not ready yet.' : `No map: ${e.message}`;
  }
}

function legend(m) {
  const counts = {};
  for (const c of m.modality) counts[c] = (counts[c] || 0) + 1;
  const items = Object.entries(counts).map(([code, n]) => {
    const name = m.modalities[code];
    return el('span', {}, el('i', { class: `dot m-${name}` }), `${NAMES[name] || name} (${n.toLocaleString()})`);
  });
  items.push(el('span', {}, el('i', { class: 'dot q' }), 'query'));
  $('legend').replaceChildren(...items);
  const ev = m.explained_variance.map((v) => `${(v * 100).toFixed(0)}%`);
  let note = `PCA of ${plural(m.total, 'CLIP vector')}: the two axes hold ${ev[0]} and ${ev[1]} of the variance. Images and texts share one space; a query lands among what it finds.`;
  if (m.sampled) note += ` Showing ${m.shown.toLocaleString()} of ${m.total.toLocaleString()} points (uniform sample).`;
  $('map-note').textContent = note;
}

function highlightCard(id) {
  for (const c of $('grid').querySelectorAll('.card.hot')) c.classList.remove('hot');
  if (id == null) return;
  const c = $('grid').querySelector(`.card[data-id="${id}"]`);
  if (c) c.classList.add('hot');
}

// ------------------------------------------------------------------ wiring

function setMode(mode) {
  state.mode = ['hybrid', 'vector', 'keyword'].includes(mode) ? mode : 'hybrid';
  for (const b of $('modes').querySelectorAll('button')) b.setAttribute('aria-checked', String(b.dataset.mode === state.mode));
}

function setView(view) {
  $('layout').dataset.view = view;
  for (const b of $('tabs').querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.view === view));
  if (view === 'map') map.resize();
}

function wire() {
  $('search').addEventListener('submit', (e) => {
    e.preventDefault();
    if ($('q').value.trim() && (state.image || state.similar)) clearImage(false);
    submit();
  });
  $('modes').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b || b.disabled) return;
    setMode(b.dataset.mode);
    submit();
  });
  $('modes').addEventListener('keydown', (e) => { // arrow keys move within the radio group
    const order = ['hybrid', 'vector', 'keyword'], d = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (!d) return;
    e.preventDefault();
    setMode(order[(order.indexOf(state.mode) + d + 3) % 3]);
    $('modes').querySelector(`[data-mode=${state.mode}]`).focus();
    submit();
  });
  $('types').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    const t = b.dataset.type;
    if (state.types.has(t)) state.types.delete(t); else state.types.add(t);
    b.setAttribute('aria-pressed', String(state.types.has(t)));
    submit();
  });
  $('ask').addEventListener('click', askNow);
  $('q').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !$('ask').hidden) { e.preventDefault(); askNow(); }
  });
  $('answer-close').addEventListener('click', () => { closeAnswer(); $('q').focus(); });
  $('pick').addEventListener('click', () => $('file').click());
  $('file').addEventListener('change', (e) => { useImage(e.target.files[0]); e.target.value = ''; });
  $('clear-image').addEventListener('click', () => { clearImage(); $('q').focus(); });
  $('tabs').addEventListener('click', (e) => { const b = e.target.closest('button'); if (b) setView(b.dataset.view); });
  $('map-reset').addEventListener('click', () => map.reset());
  $('keyform').addEventListener('submit', (e) => {
    e.preventDefault();
    state.key = $('key').value.trim();
    sessionStorage.setItem('iris-key', state.key);
    blobs.clear();
    $('keybox').close();
    loadStatus();
    submit(false);
  });
  document.addEventListener('keydown', (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (e.key === '/' && !typing && !$('detail').open) { e.preventDefault(); $('q').focus(); }
    if (e.key === 'Escape' && !$('detail').open && (state.image || state.similar)) clearImage();
  });
  document.addEventListener('paste', (e) => {
    const f = [...(e.clipboardData ? e.clipboardData.files : [])].find((x) => x.type.startsWith('image/'));
    if (f) { e.preventDefault(); useImage(f); }
  });
  let depth = 0;
  const dragging = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  window.addEventListener('dragenter', (e) => { if (dragging(e)) { depth++; $('dropzone').hidden = false; } });
  window.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; $('dropzone').hidden = true; } });
  window.addEventListener('dragover', (e) => { if (dragging(e)) e.preventDefault(); });
  window.addEventListener('drop', (e) => {
    if (!dragging(e)) return;
    e.preventDefault();
    depth = 0;
    $('dropzone').hidden = true;
    useImage(e.dataTransfer.files[0]);
  });
  window.addEventListener('popstate', loadURL);
}

map = new MapView($('map'), {
  tip: $('tip'),
  message: $('map-msg'),
  onOpen: (id) => openItem(id, state.lastResults.find((h) => h.item_id === id)),
  onHover: highlightCard,
  preview,
});
window.iris = { map, state }; // for the browser tests and the curious
wire();
loadStatus();
loadURL();
