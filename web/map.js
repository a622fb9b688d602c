// map.js - the 2D map of the index on a canvas: every item as a dot
// coloured by modality (PCA of the CLIP vectors, computed by the server),
// the current query as a ring with lines to its nearest results.
// Wheel or pinch zooms around the pointer, drag pans, double-click (or 0)
// resets; hovering shows a preview, clicking opens the item.

const MODALITY_ORDER = [2, 3, 5, 6, 1, 4]; // texts first, so images draw on top

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class MapView {
  constructor(canvas, { tip, message, onOpen, onHover, preview }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tip = tip;
    this.message = message;
    this.onOpen = onOpen;
    this.onHover = onHover;
    this.preview = preview;   // (id, tipElement) => fills the tooltip
    this.data = null;
    this.query = null;        // [x, y] or null
    this.hits = [];           // [{id, x, y, rank}]
    this.hot = null;          // highlighted item id
    this.view = { cx: 0, cy: 0, scale: 1 };
    this.pointers = new Map();
    this.pending = false;
    this.bind();
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  // ------------------------------------------------------------ data

  setData(map) {
    this.data = map;
    this.index = new Map();
    for (let i = 0; i < map.ids.length; i++) this.index.set(map.ids[i], i);
    this.message.hidden = map.ids.length > 0;
    if (!map.ids.length) this.message.textContent = 'Nothing to map yet: the index has no vectors.';
    this.reset();
  }

  setQuery(query, hits) {
    this.query = query || null;
    this.hits = (hits || []).filter((h) => h.map).map((h) => ({ id: h.item_id, x: h.map[0], y: h.map[1], rank: h.rank }));
    this.draw();
  }

  highlight(id) {
    if (this.hot === id) return;
    this.hot = id;
    this.draw();
  }

  // Fit every point (and the query) with a margin.
  reset() {
    const d = this.data;
    if (!d || !d.ids.length) return this.draw();
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < d.x.length; i++) {
      x0 = Math.min(x0, d.x[i]); x1 = Math.max(x1, d.x[i]);
      y0 = Math.min(y0, d.y[i]); y1 = Math.max(y1, d.y[i]);
    }
    if (this.query) {
      x0 = Math.min(x0, this.query[0]); x1 = Math.max(x1, this.query[0]);
      y0 = Math.min(y0, this.query[1]); y1 = Math.max(y1, this.query[1]);
    }
    const w = this.canvas.clientWidth || 1, h = this.canvas.clientHeight || 1;
    const span = Math.max((x1 - x0) / w, (y1 - y0) / h, 1e-9);
    this.view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: 0.86 / span };
    this.draw();
  }

  // ---------------------------------------------------------- geometry

  toScreen(x, y) {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight, v = this.view;
    return [(x - v.cx) * v.scale + w / 2, h / 2 - (y - v.cy) * v.scale];
  }

  toData(sx, sy) {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight, v = this.view;
    return [(sx - w / 2) / v.scale + v.cx, v.cy - (sy - h / 2) / v.scale];
  }

  zoomAt(sx, sy, factor) {
    const [dx, dy] = this.toData(sx, sy);
    this.view.scale = Math.min(Math.max(this.view.scale * factor, 1e-3), 1e9);
    const [nx, ny] = this.toData(sx, sy);
    this.view.cx += dx - nx;
    this.view.cy += dy - ny;
    this.draw();
  }

  // The point nearest (sx, sy) within 9 px, as an index, or -1.
  pick(sx, sy) {
    const d = this.data;
    if (!d) return -1;
    let best = -1, bestD = 81;
    for (let i = 0; i < d.x.length; i++) {
      const [px, py] = this.toScreen(d.x[i], d.y[i]);
      const dd = (px - sx) ** 2 + (py - sy) ** 2;
      if (dd < bestD) { bestD = dd; best = i; }
    }
    return best;
  }

  // ----------------------------------------------------------- drawing

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    if (!w || !h) return;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!this.sized && this.data) { this.sized = true; return this.reset(); }
    this.draw();
  }

  draw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.paint(); });
  }

  paint() {
    const c = this.ctx, w = this.canvas.clientWidth, h = this.canvas.clientHeight, d = this.data;
    c.clearRect(0, 0, w, h);
    if (!d || !d.ids.length) return;
    const colours = {};
    for (const [code, name] of Object.entries(d.modalities)) colours[code] = cssVar(`--m-${name}`) || '#888';
    // axes through the mean
    const [ox, oy] = this.toScreen(0, 0);
    c.strokeStyle = cssVar('--line');
    c.lineWidth = 1;
    c.beginPath(); c.moveTo(0, oy); c.lineTo(w, oy); c.moveTo(ox, 0); c.lineTo(ox, h); c.stroke();
    c.fillStyle = cssVar('--muted');
    c.font = '11px system-ui, sans-serif';
    c.fillText('PC1', w - 28, oy - 5);
    c.fillText('PC2', ox + 5, 12);
    const dimmed = this.query || this.hot != null;
    const r = d.x.length > 5000 ? 1.8 : d.x.length > 500 ? 2.6 : 4;
    for (const m of MODALITY_ORDER) {
      c.fillStyle = colours[m] || '#888';
      c.globalAlpha = dimmed ? 0.35 : 0.8;
      c.beginPath();
      for (let i = 0; i < d.x.length; i++) {
        if (d.modality[i] !== m) continue;
        const [px, py] = this.toScreen(d.x[i], d.y[i]);
        if (px < -5 || py < -5 || px > w + 5 || py > h + 5) continue;
        c.moveTo(px + r, py);
        c.arc(px, py, r, 0, 2 * Math.PI);
      }
      c.fill();
    }
    c.globalAlpha = 1;
    this.paintQuery(c, colours);
    this.paintHot(c, colours);
  }

  paintQuery(c, colours) {
    const ink = cssVar('--query');
    const q = this.query ? this.toScreen(this.query[0], this.query[1]) : null;
    const shown = this.hits.slice(0, 10);
    if (q) {
      shown.forEach((hit, i) => {
        const [hx, hy] = this.toScreen(hit.x, hit.y);
        c.strokeStyle = ink;
        c.globalAlpha = 0.75 - i * 0.05;
        c.lineWidth = i < 3 ? 1.6 : 1;
        c.beginPath(); c.moveTo(q[0], q[1]); c.lineTo(hx, hy); c.stroke();
      });
      c.globalAlpha = 1;
    }
    for (const hit of this.hits) {
      const [hx, hy] = this.toScreen(hit.x, hit.y);
      const i = this.index.get(hit.id);
      c.fillStyle = i != null ? colours[this.data.modality[i]] : '#888';
      c.strokeStyle = ink;
      c.lineWidth = 1.5;
      c.beginPath(); c.arc(hx, hy, 5, 0, 2 * Math.PI); c.fill(); c.stroke();
    }
    if (!q) return;
    c.lineWidth = 3;
    c.strokeStyle = ink;
    c.fillStyle = cssVar('--panel');
    c.beginPath(); c.arc(q[0], q[1], 8, 0, 2 * Math.PI); c.fill(); c.stroke();
    c.fillStyle = ink;
    c.beginPath(); c.arc(q[0], q[1], 3, 0, 2 * Math.PI); c.fill();
    c.font = '600 12px system-ui, sans-serif';
    c.fillText('query', q[0] + 12, q[1] - 10);
  }

  paintHot(c, colours) {
    if (this.hot == null || !this.index || !this.index.has(this.hot)) return;
    const i = this.index.get(this.hot), d = this.data;
    const [px, py] = this.toScreen(d.x[i], d.y[i]);
    c.strokeStyle = cssVar('--focus');
    c.lineWidth = 3;
    c.fillStyle = colours[d.modality[i]];
    c.beginPath(); c.arc(px, py, 8, 0, 2 * Math.PI); c.fill(); c.stroke();
  }

  // ------------------------------------------------------------ events

  bind() {
    const cv = this.canvas;
    cv.addEventListener('wheel', (e) => {
      e.preventDefault();
      const b = cv.getBoundingClientRect();
      this.zoomAt(e.clientX - b.left, e.clientY - b.top, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    cv.addEventListener('pointerdown', (e) => {
      cv.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY });
      cv.classList.add('dragging');
    });
    cv.addEventListener('pointermove', (e) => this.onMove(e));
    const end = (e) => {
      const p = this.pointers.get(e.pointerId);
      this.pointers.delete(e.pointerId);
      if (!this.pointers.size) cv.classList.remove('dragging');
      if (p && e.type === 'pointerup' && Math.hypot(e.clientX - p.x0, e.clientY - p.y0) < 4) this.onClick(e);
    };
    cv.addEventListener('pointerup', end);
    cv.addEventListener('pointercancel', end);
    cv.addEventListener('pointerleave', () => { this.tip.hidden = true; this.hoverIndex = -1; this.onHover(null); });
    cv.addEventListener('dblclick', () => this.reset());
    cv.addEventListener('keydown', (e) => {
      const w = cv.clientWidth / 2, h = cv.clientHeight / 2, step = 40 / this.view.scale;
      const keys = {
        '+': () => this.zoomAt(w, h, 1.25), '=': () => this.zoomAt(w, h, 1.25), '-': () => this.zoomAt(w, h, 0.8),
        '0': () => this.reset(), ArrowLeft: () => { this.view.cx -= step; }, ArrowRight: () => { this.view.cx += step; },
        ArrowUp: () => { this.view.cy += step; }, ArrowDown: () => { this.view.cy -= step; },
      };
      if (!keys[e.key]) return;
      e.preventDefault();
      keys[e.key]();
      this.draw();
    });
  }

  onMove(e) {
    const cv = this.canvas, b = cv.getBoundingClientRect();
    const p = this.pointers.get(e.pointerId);
    if (p) {
      if (this.pointers.size === 2) { // pinch: scale by the change in finger distance
        const [a, bb] = [...this.pointers.values()];
        const before = Math.hypot(a.x - bb.x, a.y - bb.y);
        p.x = e.clientX; p.y = e.clientY;
        const after = Math.hypot(a.x - bb.x, a.y - bb.y);
        if (before > 0) this.zoomAt((a.x + bb.x) / 2 - b.left, (a.y + bb.y) / 2 - b.top, after / before);
        return;
      }
      this.view.cx -= (e.clientX - p.x) / this.view.scale;
      this.view.cy += (e.clientY - p.y) / this.view.scale;
      p.x = e.clientX; p.y = e.clientY;
      this.tip.hidden = true;
      return this.draw();
    }
    const sx = e.clientX - b.left, sy = e.clientY - b.top, i = this.pick(sx, sy);
    cv.style.cursor = i >= 0 ? 'pointer' : '';
    if (i === this.hoverIndex) return this.placeTip(sx, sy);
    this.hoverIndex = i;
    if (i < 0) { this.tip.hidden = true; this.onHover(null); return; }
    const id = this.data.ids[i];
    this.onHover(id);
    this.preview(id, this.tip);
    this.tip.hidden = false;
    this.placeTip(sx, sy);
  }

  placeTip(sx, sy) {
    if (this.tip.hidden) return;
    const wrap = this.canvas.clientWidth, hh = this.canvas.clientHeight;
    const tw = this.tip.offsetWidth, th = this.tip.offsetHeight;
    let x = sx + 14, y = sy + 14;
    if (x + tw > wrap - 4) x = sx - tw - 14;
    if (y + th > hh - 4) y = sy - th - 14;
    this.tip.style.left = `${Math.max(4, x)}px`;
    this.tip.style.top = `${Math.max(4, y)}px`;
  }

  onClick(e) {
    const b = this.canvas.getBoundingClientRect();
    const i = this.pick(e.clientX - b.left, e.clientY - b.top);
    if (i >= 0) this.onOpen(this.data.ids[i]);
  }

  // Centres the view on an item (from "Show on map").
  focus(id) {
    const i = this.index ? this.index.get(id) : undefined;
    if (i === undefined) return false;
    this.view.cx = this.data.x[i];
    this.view.cy = this.data.y[i];
    this.hot = id;
    this.draw();
    return true;
  }
}
