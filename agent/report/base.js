// The page of `agent report` (agent/report/): these files are one
// script, in the order agent/BUILD.bazel lists them, inside one function
// that agent/report/embed.c wraps around them ('use strict').
//
// base.js: errors the page meets, the exact bytes and the shown text of
// the data's strings, DOM helpers, formatting, timestamps.
//
// Data is never parsed as markup: every string reaches the page through
// textContent, createTextNode or setAttribute (never on* or href), and the
// Content-Security-Policy of the page lets this script alone run.

const t0 = performance.now();
const SVGNS = 'http://www.w3.org/2000/svg';
const body = document.body;
const errBox = document.getElementById('errors');
let errCount = 0;

// Every error the page meets is shown on it and counted in
// #errors[data-count], where a test (or a person) finds it.
function reportError(msg) {
  errCount++;
  errBox.hidden = false;
  errBox.dataset.count = String(errCount);
  const p = document.createElement('p');
  p.textContent = 'The page hit an error: ' + msg;
  errBox.appendChild(p);
}
window.addEventListener('error', (e) => {
  reportError((e.message || 'error') + (e.lineno ? ' (line ' + e.lineno + ')' : ''));
});
window.addEventListener('unhandledrejection', (e) => reportError('unhandled rejection: ' + String(e.reason)));
const consoleError = console.error.bind(console);
console.error = function (...args) {
  reportError(args.map(String).join(' '));
  consoleError(...args);
};

// ---- Bytes and text -------------------------------------------------

// core/json.h writes a byte that is not UTF-8 as \u0080..\u00ff.  Before
// JSON.parse such an escape becomes \udc80..\udcff (a lone surrogate, which
// no text holds), so that a raw 0xe9 and the character é stay apart.
function parseData(text) {
  if (text.indexOf('\\u00') >= 0) {
    text = text.replace(/(\\+)u00([89a-fA-F][0-9a-fA-F])/g, (m, bs, hx) =>
      bs.length % 2 === 1 ? bs + 'udc' + hx : m);
  }
  return JSON.parse(text);
}

const utf8 = new TextEncoder();
const HAS_SURROGATE = /[\ud800-\udfff]/;

// The exact bytes of a string of the data.
function bytesOf(s) {
  if (!HAS_SURROGATE.test(s)) return utf8.encode(s);
  const out = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp >= 0xdc80 && cp <= 0xdcff) out.push(cp - 0xdc00);
    else for (const b of utf8.encode(ch)) out.push(b);
  }
  return Uint8Array.from(out);
}

const NEEDS_ESC = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\udc80-\udcff]/;
function hex(n, w) {
  return n.toString(16).padStart(w, '0');
}

// The escape of a character that could hide or reorder text (control
// bytes, bytes that are not UTF-8, C1 controls, line separators, bidi
// controls): \xNN or \uXXXX; null for any other.  Newlines stay: they only
// ever separate maps lines.
function escapeOf(cp) {
  if ((cp < 0x20 && cp !== 0x0a) || cp === 0x7f) return '\\x' + hex(cp, 2);
  if (cp >= 0x80 && cp <= 0x9f) return '\\xc2\\x' + hex(cp, 2);
  if (cp >= 0xdc80 && cp <= 0xdcff) return '\\x' + hex(cp - 0xdc00, 2);
  if (cp === 0x61c || cp === 0x200e || cp === 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
      (cp >= 0x2066 && cp <= 0x2069)) return '\\u' + hex(cp, 4);
  return null;
}

// s with those characters escaped, for an attribute (a tooltip).
function shownText(s) {
  if (!NEEDS_ESC.test(s)) return s;
  let out = '';
  for (const ch of s) {
    const esc = escapeOf(ch.codePointAt(0));
    out += esc === null ? ch : esc;
  }
  return out;
}

// Appends s for people to read: printable text as it is, the escapes of
// escapeOf() marked, so that they cannot be mistaken for the text.
function appendShown(parent, s) {
  if (!NEEDS_ESC.test(s)) {
    parent.appendChild(document.createTextNode(s));
    return;
  }
  let run = '';
  for (const ch of s) {
    const esc = escapeOf(ch.codePointAt(0));
    if (esc === null) {
      run += ch;
      continue;
    }
    if (run) parent.appendChild(document.createTextNode(run));
    run = '';
    const sp = document.createElement('span');
    sp.className = 'esc';
    sp.title = 'a byte that is not printable text, shown escaped; "Save this text" keeps the real byte';
    sp.textContent = esc;
    parent.appendChild(sp);
  }
  if (run) parent.appendChild(document.createTextNode(run));
}

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) appendShown(e, String(text));
  if (parent) parent.appendChild(e);
  return e;
}

function sv(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function svText(parent, x, y, s, attrs) {
  const t = sv('text', Object.assign({x: x.toFixed(1), y: y.toFixed(1)}, attrs || {}), parent);
  t.textContent = s;
  return t;
}

// ---- Formatting -----------------------------------------------------

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
function fmtBytes(n) {
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  return (u === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + UNITS[u];
}
function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US');
}
function pad(n, w) {
  return String(n).padStart(w, '0');
}
// "2026-11-25 18:33:28.123456" (UTC) from microseconds.
function fmtTime(us, withDate, digits) {
  const ms = Math.floor(us / 1000);
  const d = new Date(ms);
  let s = pad(d.getUTCHours(), 2) + ':' + pad(d.getUTCMinutes(), 2) + ':' + pad(d.getUTCSeconds(), 2);
  if (digits === undefined) digits = 6;
  if (digits > 0) {
    const frac = pad(((us % 1000000) + 1000000) % 1000000, 6);
    s += '.' + frac.slice(0, digits);
  }
  if (withDate) s = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1, 2) + '-' + pad(d.getUTCDate(), 2) + ' ' + s;
  return s;
}
function fmtDuration(us) {
  const s = us / 1e6;
  if (s < 1) return (us / 1000).toFixed(us < 10000 ? 2 : 0) + ' ms';
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.round((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.round((s % 86400) / 3600) + ' h';
}

// A timestamp as `agent replay --at` takes it: 20261125T183328[.ffffff][Z]
// or 2026-11-25T18:33:28[.ffffff][Z]; a missing or short fraction means
// the end of that interval.  Microseconds, or null.
function parseTs(s) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.(\d{1,6}))?Z?$/.exec(s);
  if (!m) return null;
  const ext = s.charAt(4) === '-';
  if (ext !== (s.charAt(13) === ':') || ext !== (s.charAt(16) === ':')) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  const dim = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > dim || h > 23 || mi > 59 || se > 59) return null;
  const frac = m[7] === undefined ? 999999 : Number(m[7].padEnd(6, '9'));
  return Date.UTC(y, mo - 1, d, h, mi, se) * 1000 + frac;
}
