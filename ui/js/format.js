// Number, byte, time and id formatting shared by every view.

// Intl.NumberFormat costs tens of ms to create, on the first render's path: integers, nearly all
// that is shown, are grouped here, the rest by one created on first use (the same text).
let nf = null;
function format(n) {
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
    const digits = String(Math.abs(n));
    let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
    for (let i = out.length; i < digits.length; i += 3) out += ',' + digits.slice(i, i + 3);
    return n < 0 ? '-' + out : out;
  }
  if (!nf) nf = new Intl.NumberFormat('en-US');
  return nf.format(n);
}
export const num = (n) => (n === undefined || n === null || Number.isNaN(n) ? '–' : format(n));

export function compact(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  const a = Math.abs(n);
  if (a < 10000) return format(Math.round(n * 10) / 10);
  if (a < 1e6) return (n / 1e3).toFixed(a < 1e5 ? 1 : 0) + 'k';
  if (a < 1e9) return (n / 1e6).toFixed(a < 1e8 ? 2 : 1) + 'M';
  return (n / 1e9).toFixed(2) + 'G';
}

export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return (u === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[u];
}

export const rate = (n) => (n === undefined || n === null ? '–' : bytes(n) + '/s');

export function clock(d) {
  return d.toTimeString().slice(0, 8);
}

// A unix-µs moment as local date and time.
export function moment(us) {
  const d = new Date(us / 1000);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function microseconds(us) {
  if (us === undefined || us === null) return '–';
  if (us < 1000) return Math.round(us) + ' µs';
  if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + ' ms';
  return (us / 1e6).toFixed(2) + ' s';
}

// A message id split so that its last five digits (the id within its page of 100,000) stand out
// from the page number in front: [lead, tail].
export function splitId(id) {
  const s = String(id);
  if (id < 0 || s.length <= 5) return ['', s];
  return [s.slice(0, -5), s.slice(-5)];
}

// A 1-in-100 short form of a session id (the reference UI shows id mod 100).
export const shortSid = (id) => '#' + String(id % 100).padStart(2, '0');

export function plural(n, one, many) {
  return nf.format(n) + ' ' + (n === 1 ? one : many || one + 's');
}
