// Number and time formatting for axes, legends and tables.

const SI = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

function trim(n, digits = 3) {
  if (!Number.isFinite(n)) return String(n);
  const s = Math.abs(n) >= 100 ? n.toFixed(0) : Number(n.toPrecision(digits)).toString();
  return s;
}

/**
 * A value with its unit: s (seconds), ms, bytes, percent, reqps, short.
 * @param {number|null} v
 * @param {string} [unit]
 */
export function formatValue(v, unit = '') {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return 'NaN';
  switch (unit) {
    case 's':
      if (v !== 0 && Math.abs(v) < 1e-3) return `${trim(v * 1e6)} µs`;
      if (v !== 0 && Math.abs(v) < 1) return `${trim(v * 1e3)} ms`;
      if (Math.abs(v) < 120) return `${trim(v)} s`;
      if (Math.abs(v) < 7200) return `${trim(v / 60)} min`;
      return `${trim(v / 3600)} h`;
    case 'ms':
      return formatValue(v / 1000, 's');
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      let x = v;
      while (Math.abs(x) >= 1024 && i < units.length - 1) {
        x /= 1024;
        i++;
      }
      return `${trim(x)} ${units[i]}`;
    }
    case 'percent':
      return `${trim(v)}%`;
    case 'reqps':
      return `${short(v)} req/s`;
    default:
      return short(v);
  }
}

function short(v) {
  for (const [limit, suffix] of SI) if (Math.abs(v) >= limit) return `${trim(v / limit)}${suffix}`;
  return trim(v);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/**
 * A time for an axis tick or a tooltip, in local time; `spanMs` chooses the
 * precision (dates for long ranges, seconds for short ones).
 */
export function formatTime(ms, spanMs = 3600e3) {
  const d = new Date(ms);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (spanMs <= 5 * 60e3) return `${hm}:${pad(d.getSeconds())}`;
  if (spanMs <= 2 * 86400e3) return hm;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** Full local date and time with milliseconds, for log lines and tooltips. */
export function formatDateTime(ms) {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}
