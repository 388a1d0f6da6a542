// A time-series line chart on canvas: axes, one line per series, a legend,
// hover values and drag-to-zoom. Two stacked canvases: the lines are drawn
// once per size change, the hover line and the selection on the overlay.

import { h, clear } from './dom.js';
import { formatValue, formatTime, formatDateTime } from './format.js';

export const COLORS = [
  '#3274d9', '#e0752d', '#56a64b', '#e02f44', '#8f3bb8', '#14b8a6', '#f2cc0c', '#ca4e9a',
  '#5794f2', '#ff9830', '#73bf69', '#f2495c', '#b877d9', '#37872d', '#8ab8ff', '#c4162a',
];

const PAD = { left: 64, right: 12, top: 10, bottom: 24 };

/**
 * Draw `series` into `container` (which it empties).
 * @param {HTMLElement} container
 * @param {{name: string, times: number[], values: (number|null)[]}[]} series
 * @param {{from: number, to: number, unit?: string, onZoom?: (from: number, to: number) => void}} opts
 */
export function renderChart(container, series, opts) {
  clear(container);
  const plot = h('div', { class: 'chart-plot' });
  const base = h('canvas', { class: 'chart-base' });
  const overlay = h('canvas', { class: 'chart-overlay' });
  const tooltip = h('div', { class: 'chart-tooltip', hidden: true });
  plot.append(base, overlay, tooltip);
  const legend = h('div', { class: 'chart-legend' },
    ...series.map((s, i) => h('span', { class: 'legend-item', title: s.name },
      h('i', { style: `background:${COLORS[i % COLORS.length]}` }), s.name)));
  container.append(plot, legend);
  container.dataset.series = String(series.length);

  const state = { w: 0, h: 0, yMin: 0, yMax: 1, drag: null };
  const x = (t) => PAD.left + ((t - opts.from) / (opts.to - opts.from)) * (state.w - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - state.yMin) / (state.yMax - state.yMin)) * (state.h - PAD.top - PAD.bottom);
  const tAt = (px) => opts.from + ((px - PAD.left) / (state.w - PAD.left - PAD.right)) * (opts.to - opts.from);

  function size() {
    const r = plot.getBoundingClientRect();
    state.w = Math.max(100, Math.floor(r.width));
    state.h = Math.max(80, Math.floor(r.height));
    const dpr = window.devicePixelRatio || 1;
    for (const c of [base, overlay]) {
      c.width = state.w * dpr;
      c.height = state.h * dpr;
      c.style.width = `${state.w}px`;
      c.style.height = `${state.h}px`;
      c.getContext('2d').setTransform(dpr, 0, 0, dpr, 0, 0);
    }
  }

  function yRange() {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of series) {
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (v === null || !Number.isFinite(v) || s.times[i] < opts.from || s.times[i] > opts.to) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo === Infinity) return [0, 1];
    if (lo > 0) lo = 0;
    if (lo === hi) return lo === 0 ? [0, 1] : lo > 0 ? [0, hi * 1.1] : [lo * 1.1, 0];
    return [lo, hi + (hi - lo) * 0.05];
  }

  function draw() {
    size();
    [state.yMin, state.yMax] = yRange();
    const ctx = base.getContext('2d');
    ctx.clearRect(0, 0, state.w, state.h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#6b7280';
    ctx.strokeStyle = '#e5e7eb';
    ctx.lineWidth = 1;
    for (const v of niceTicks(state.yMin, state.yMax, Math.max(2, Math.floor(state.h / 40)))) {
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD.left, py);
      ctx.lineTo(state.w - PAD.right, py);
      ctx.stroke();
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(formatValue(v, opts.unit), PAD.left - 6, py);
    }
    const span = opts.to - opts.from;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of timeTicks(opts.from, opts.to, Math.max(2, Math.floor(state.w / 110)))) {
      const px = Math.round(x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, PAD.top);
      ctx.lineTo(px, state.h - PAD.bottom);
      ctx.stroke();
      ctx.fillText(formatTime(t, span), px, state.h - PAD.bottom + 6);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, state.w - PAD.left - PAD.right, state.h - PAD.top - PAD.bottom);
    ctx.clip();
    ctx.lineWidth = 1.5;
    series.forEach((s, i) => {
      ctx.strokeStyle = COLORS[i % COLORS.length];
      ctx.beginPath();
      let pen = false;
      for (let j = 0; j < s.times.length; j++) {
        const v = s.values[j];
        if (v === null || !Number.isFinite(v)) {
          pen = false;
          continue;
        }
        const px = x(s.times[j]);
        const py = y(v);
        if (pen) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
      if (s.times.length === 1 && s.values[0] !== null) {
        ctx.fillStyle = ctx.strokeStyle;
        ctx.fillRect(x(s.times[0]) - 2, y(s.values[0]) - 2, 4, 4);
      }
    });
    ctx.restore();
  }

  function hover(px, py) {
    const ctx = overlay.getContext('2d');
    ctx.clearRect(0, 0, state.w, state.h);
    if (state.drag) {
      ctx.fillStyle = 'rgba(50, 116, 217, 0.15)';
      ctx.fillRect(Math.min(state.drag, px), PAD.top, Math.abs(px - state.drag), state.h - PAD.top - PAD.bottom);
    }
    if (px < PAD.left || px > state.w - PAD.right) {
      tooltip.hidden = true;
      return;
    }
    const t = tAt(px);
    ctx.strokeStyle = '#9ca3af';
    ctx.beginPath();
    ctx.moveTo(Math.round(px) + 0.5, PAD.top);
    ctx.lineTo(Math.round(px) + 0.5, state.h - PAD.bottom);
    ctx.stroke();
    const rows = [];
    series.forEach((s, i) => {
      const j = nearest(s.times, t);
      if (j < 0) return;
      const v = s.values[j];
      rows.push({ i, name: s.name, v, t: s.times[j] });
      if (v !== null && Number.isFinite(v)) {
        ctx.fillStyle = COLORS[i % COLORS.length];
        ctx.beginPath();
        ctx.arc(x(s.times[j]), y(v), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    });
    rows.sort((a, b) => (b.v ?? -Infinity) - (a.v ?? -Infinity));
    clear(tooltip);
    tooltip.append(h('div', { class: 'tt-time' }, formatDateTime(rows.length ? rows[0].t : t)),
      ...rows.slice(0, 12).map((r) => h('div', {},
        h('i', { style: `background:${COLORS[r.i % COLORS.length]}` }), `${r.name}: `, h('b', {}, formatValue(r.v, opts.unit)))),
      rows.length > 12 ? h('div', {}, `… ${rows.length - 12} more`) : null);
    tooltip.hidden = false;
    const left = px + 16 + 260 > state.w ? px - 16 - tooltip.offsetWidth : px + 16;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${Math.min(Math.max(0, py - 10), Math.max(0, state.h - tooltip.offsetHeight))}px`;
  }

  const pos = (e) => {
    const r = overlay.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  overlay.addEventListener('mousemove', (e) => hover(...pos(e)));
  overlay.addEventListener('mouseleave', () => {
    tooltip.hidden = true;
    if (!state.drag) overlay.getContext('2d').clearRect(0, 0, state.w, state.h);
  });
  overlay.addEventListener('mousedown', (e) => {
    state.drag = pos(e)[0];
  });
  window.addEventListener('mouseup', function up(e) {
    if (!overlay.isConnected) {
      window.removeEventListener('mouseup', up);
      return;
    }
    if (state.drag === null) return;
    const start = state.drag;
    const end = pos(e)[0];
    state.drag = null;
    overlay.getContext('2d').clearRect(0, 0, state.w, state.h);
    if (Math.abs(end - start) > 5 && opts.onZoom) {
      const a = tAt(Math.max(PAD.left, Math.min(start, end)));
      const b = tAt(Math.min(state.w - PAD.right, Math.max(start, end)));
      opts.onZoom(Math.round(a), Math.round(b));
    }
  });
  if (typeof ResizeObserver !== 'undefined') {
    let last = 0;
    new ResizeObserver(() => {
      const w = plot.getBoundingClientRect().width;
      if (Math.abs(w - last) > 1) {
        last = w;
        draw();
      }
    }).observe(plot);
  }
  draw();
}

/** Index of the time in sorted `times` nearest to `t`, or -1. */
function nearest(times, t) {
  if (!times.length) return -1;
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(times[lo - 1] - t) < Math.abs(times[lo] - t)) lo--;
  return lo;
}

/** Round tick values between lo and hi, about `count` of them. */
export function niceTicks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((s) => s * 1000);

/** Round times between from and to, about `count` of them (local midnight aligned for days). */
export function timeTicks(from, to, count) {
  const raw = (to - from) / count;
  const step = TIME_STEPS.find((s) => s >= raw) || Math.ceil(raw / 86400e3) * 86400e3;
  const offset = new Date(from).getTimezoneOffset() * 60e3;
  const out = [];
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to; t += step) out.push(t);
  return out;
}
