// The page of `agent report`: draws the history held as JSON in the
// element #data (agent/report_page.h says what each field is).
//
// Data is never parsed as markup: every string reaches the page through
// textContent, createTextNode or setAttribute (never on* or href), and the
// Content-Security-Policy of the page lets this script alone run.
'use strict';
(function () {
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

  // ---- The data -------------------------------------------------------

  // Where the time goes, for the benchmark: body[data-timing].
  const timing = [];
  let lap = t0;
  function mark(what) {
    const now = performance.now();
    timing.push(what + '=' + Math.round(now - lap));
    lap = now;
  }

  const D = parseData(document.getElementById('data').textContent);
  mark('parse');
  const moments = D.moments;
  const nM = moments.length;
  const nR = D.regions.length;
  const nB = D.bounds.length;
  const kinds = D.kinds;
  const K = kinds.length;
  const rwxKind = kinds.findIndex((kd) => kd[0] === 'rwx');

  // Page-aligned addresses below 2^64 are exact in a double.
  function addrNum(h) {
    return h.length > 8 ? parseInt(h.slice(0, -8), 16) * 4294967296 + parseInt(h.slice(-8), 16) : parseInt(h, 16);
  }
  const bAddr = new Float64Array(nB);
  const boundIndex = new Map();
  for (let i = 0; i < nB; i++) {
    bAddr[i] = addrNum(D.bounds[i]);
    boundIndex.set(D.bounds[i], i);
  }
  const mUs = new Float64Array(nM);
  for (let m = 0; m < nM; m++) mUs[m] = moments[m].us;
  // Regions: moment indices (rTo === nM: still there at the end), bound
  // indices, kind, line.  Sorted by start address, then time.
  const rFrom = new Int32Array(nR), rTo = new Int32Array(nR), rS = new Int32Array(nR), rE = new Int32Array(nR);
  const rKind = new Uint8Array(nR);
  const rLine = new Array(nR);
  for (let r = 0; r < nR; r++) {
    const a = D.regions[r];
    rFrom[r] = a[0];
    rTo[r] = a[1] < 0 ? nM : a[1];
    rS[r] = a[2];
    rE[r] = a[3];
    rKind[r] = a[4];
    rLine[r] = a[5];
  }
  D.regions = null;

  // Counts and bytes by kind after each moment (a difference array, then
  // prefix sums), for the charts and the list.
  const cnt = new Float64Array((nM + 1) * K), byt = new Float64Array((nM + 1) * K);
  const kindUsed = new Uint32Array(K);
  for (let r = 0; r < nR; r++) {
    const k = rKind[r], size = bAddr[rE[r]] - bAddr[rS[r]];
    cnt[rFrom[r] * K + k] += 1;
    cnt[rTo[r] * K + k] -= 1;
    byt[rFrom[r] * K + k] += size;
    byt[rTo[r] * K + k] -= size;
    kindUsed[k]++;
  }
  for (let m = 1; m <= nM; m++) {
    for (let k = 0; k < K; k++) {
      cnt[m * K + k] += cnt[(m - 1) * K + k];
      byt[m * K + k] += byt[(m - 1) * K + k];
    }
  }
  function totalAt(arr, m) {
    let s = 0;
    for (let k = 0; k < K; k++) s += arr[m * K + k];
    return s;
  }

  // ---- The address axis -------------------------------------------------
  // Piecewise: each stretch between two consecutive addresses that any
  // region starts or ends at gets a height that grows with the log of its
  // size, so that a 4 KiB guard page and a 1 GiB heap both show; a stretch
  // never mapped gets a thin gap, or a fixed break when it is larger than
  // GAP_SMALL (the 47-bit void between clusters).
  const GAP_SMALL = 1048576, BREAK_W = 1.4, GAP_W = 0.3;
  const Y = new Float64Array(Math.max(nB, 1));
  const isBreak = new Uint8Array(Math.max(nB, 1));
  {
    const cov = new Int32Array(nB + 1);
    for (let r = 0; r < nR; r++) {
      cov[rS[r]]++;
      cov[rE[r]]--;
    }
    let run = 0;
    for (let i = 0; i + 1 < nB; i++) {
      run += cov[i];
      const size = bAddr[i + 1] - bAddr[i];
      let w;
      if (run > 0) w = 1 + 0.5 * Math.log2(Math.max(1, size / 4096));
      else if (size <= GAP_SMALL) w = GAP_W;
      else {
        w = BREAK_W;
        isBreak[i] = 1;
      }
      Y[i + 1] = Y[i] + w;
    }
  }
  const W = nB > 0 ? Y[nB - 1] : 1;
  // Room for the longest address label (monospace, ~6.4 px a digit).
  let longest = 4;
  for (const b of D.bounds) longest = Math.max(longest, b.length);
  const leftMargin = Math.round(22 + 6.4 * longest);
  const yDom = [-0.4, W + 0.4];

  // ---- The time axis ----------------------------------------------------
  const lastUs = nM ? mUs[nM - 1] : 0;
  const tStart = D.from_us !== null ? D.from_us : nM ? mUs[0] : 0;
  let tEnd;
  if (D.to_us !== null) tEnd = D.to_us;
  else {
    // Room after the last moment, so that what it recorded shows as a bar.
    const span = lastUs - tStart;
    tEnd = lastUs + (span > 0 ? Math.max(span * 0.05, Math.min(1e6, span * 0.2)) : 1e6);
  }
  if (tEnd <= tStart) tEnd = tStart + 1e6;
  let ordinal = false; // time axis: real time, or one step per moment
  const pos = new Float64Array(nM + 1);
  function setPositions() {
    for (let m = 0; m < nM; m++) pos[m] = ordinal ? m : mUs[m];
    pos[nM] = ordinal ? nM : tEnd;
  }
  function xDom() {
    return ordinal ? [0, nM] : [tStart, tEnd];
  }
  // The last moment at or before time us; -1 when none.
  function momentAt(us) {
    let lo = 0, hi = nM;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (mUs[mid] <= us) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
  // The axis position of time us.
  function posOfTime(us) {
    if (!ordinal) return us;
    const m = momentAt(us);
    if (m < 0) return 0;
    const next = m + 1 < nM ? mUs[m + 1] : tEnd;
    return m + (next > mUs[m] ? Math.min(1, (us - mUs[m]) / (next - mUs[m])) : 0);
  }
  // The moment at axis position p; -1 before the first.
  function momentAtPos(p) {
    if (ordinal) return Math.min(nM - 1, Math.floor(p));
    return momentAt(p);
  }
  setPositions();

  // ---- View -------------------------------------------------------------
  const view = {x0: 0, x1: 1, y0: yDom[0], y1: yDom[1]};
  function resetView() {
    const d = xDom();
    view.x0 = d[0];
    view.x1 = d[1];
    view.y0 = yDom[0];
    view.y1 = yDom[1];
  }
  resetView();

  function clampView() {
    const d = xDom();
    const minX = ordinal ? 0.02 : 20;
    let span = Math.max(minX, Math.min(view.x1 - view.x0, d[1] - d[0]));
    if (view.x0 < d[0]) view.x0 = d[0];
    if (view.x0 + span > d[1]) view.x0 = d[1] - span;
    view.x1 = view.x0 + span;
    span = Math.max(0.02, Math.min(view.y1 - view.y0, yDom[1] - yDom[0]));
    if (view.y0 < yDom[0]) view.y0 = yDom[0];
    if (view.y0 + span > yDom[1]) view.y0 = yDom[1] - span;
    view.y1 = view.y0 + span;
  }

  // ---- Page furniture ---------------------------------------------------
  const svg = document.getElementById('map');
  const wrap = document.getElementById('map-wrap');
  const tip = document.getElementById('tip');
  const aggNote = document.getElementById('agg-note');
  const mapsText = document.getElementById('maps-text');
  const atSummary = document.getElementById('at-summary');
  const target = D.target || '(unknown target)';

  // The processes of the history, in order (a pid may come back).
  const pids = [];
  for (const mo of moments) if (mo.res === 'good' && mo.new) pids.push({pid: mo.pid, us: mo.us});

  function fillHeader() {
    const title = document.getElementById('title');
    title.textContent = '';
    appendShown(title, 'memmon report: ' + target);
    document.title = 'memmon report: ' + target;
    const sub = document.getElementById('subtitle');
    const pidText = pids.length === 0 ? 'no readable state' :
      (pids.length === 1 ? 'pid ' : 'pids ') + pids.map((p) => p.pid).join(', ');
    const endUs = D.to_us !== null ? tEnd : lastUs;
    const a = fmtTime(tStart, true, 0), b = fmtTime(endUs, true, 0);
    const range = a + ' \u2192 ' + (a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b) + ' UTC';
    const span = fmtDuration((D.to_us !== null ? tEnd : lastUs) - tStart);
    appendShown(sub, 'target ' + target + ' \u00b7 ' + pidText + ' \u00b7 ' + range + ' (' + span + ') \u00b7 ' +
      fmtInt(nM) + ' recorded moment' + (nM === 1 ? '' : 's') + ' \u00b7 ' + fmtInt(nR) + ' region instance' +
      (nR === 1 ? '' : 's') + ' \u00b7 ' + fmtInt(D.alerts.length) + ' alert event' + (D.alerts.length === 1 ? '' : 's'));

    const notes = document.getElementById('notes');
    const note = (cls, s) => el('li', cls, notes, s);
    if (D.broken > 0) {
      const bad = moments.filter((m) => m.res === 'bad');
      note('bad', fmtInt(D.broken) + ' backup file' + (D.broken === 1 ? '' : 's') + ' could not be read (' +
        bad.slice(0, 3).map((m) => m.file + ': ' + m.fault).join('; ') + (bad.length > 3 ? '; \u2026' : '') +
        '). At ' + (D.broken === 1 ? 'its moment' : 'their moments') + ' and after, up to the next good full ' +
        'snapshot, the map and the maps text show the last good state, as `agent replay --at` does; ' +
        'they are marked in red on the map and in the list.');
    }
    if (nM > 0 && !moments[0].state) {
      const first = moments.findIndex((m) => m.state);
      note('warn', first < 0 ? 'No full snapshot could be read: there is no state to draw.' :
        'Before ' + fmtTime(mUs[first], true) + ' nothing could be rebuilt (no readable full snapshot).');
    }
    if (D.from || D.to) {
      note('', 'Showing ' + (D.from ? 'from ' + fmtTime(D.from_us, true) : 'from the start') + ' ' +
        (D.to ? 'to ' + fmtTime(D.to_us, true) : 'to the end') + ' UTC' +
        (D.from && nM && mUs[0] < D.from_us ? '; the first moment listed is the state at --from, recorded at ' +
          fmtTime(mUs[0], true) : '') + '.');
    }
    const ev = D.events;
    const src = document.getElementById('alerts-source');
    src.textContent = '';
    if (ev.status === 'read') {
      appendShown(src, 'From ' + ev.path + ': ' + fmtInt(ev.lines) + ' lines' +
        (ev.bad_lines ? ', ' + fmtInt(ev.bad_lines) + ' of them unreadable' : '') +
        (ev.dropped ? ', ' + fmtInt(ev.dropped) + ' more alerts not shown' : '') + '. Click one to see its moment.');
    } else if (ev.status === 'absent') {
      appendShown(src, 'No events file (logs/events.jsonl) next to this folder: the agent writes alerts there.');
    } else if (ev.status === 'none') {
      appendShown(src, 'No events file was looked for.');
    } else {
      appendShown(src, 'The events file ' + (ev.path || '') + ' is ' + ev.status + '.');
    }
    const footer = document.getElementById('footer');
    appendShown(footer, 'Made by ' + D.generator + ' `agent report` from ' + D.dir + '. Everything is in this ' +
      'file; it fetches nothing. Times are UTC.');
  }

  function fillLegend() {
    const lg = document.getElementById('legend');
    for (let k = 0; k < K; k++) {
      const it = el('span', 'item' + (kindUsed[k] ? '' : ' absent'), lg);
      el('span', 'sw k-' + kinds[k][0], it);
      el('span', '', it, kinds[k][1] + (kindUsed[k] ? ' (' + fmtInt(kindUsed[k]) + ')' : ''));
      it.title = kindUsed[k] ? fmtInt(kindUsed[k]) + ' region instances' : 'none in this history';
    }
    const more = [
      ['\u25b2', 'alert raised (\u25b3 cleared)'],
      ['\u2248', 'empty address range, collapsed'],
      ['\u2506', 'new process / last recorded moment'],
    ];
    for (const [sym, text] of more) {
      const it = el('span', 'item', lg);
      el('span', 'sym', it, sym);
      el('span', '', it, text);
    }
  }

  // ---- The map ----------------------------------------------------------
  let plot = {left: 0, right: 1, top: 0, bottom: 1};
  let aggMembers = []; // members of each merged bar, by its data-agg
  let sel = -1; // the selected moment
  let hlRegion = -1;
  let gBars = null, gMarks = null, gSlab = null;
  let renderedSize = '';

  function X(p) {
    return plot.left + (p - view.x0) / (view.x1 - view.x0) * (plot.right - plot.left);
  }
  function Yp(u) {
    return plot.bottom - (u - view.y0) / (view.y1 - view.y0) * (plot.bottom - plot.top);
  }
  function invX(px) {
    return view.x0 + (px - plot.left) / (plot.right - plot.left) * (view.x1 - view.x0);
  }
  function invY(py) {
    return view.y0 + (plot.bottom - py) / (plot.bottom - plot.top) * (view.y1 - view.y0);
  }

  // Nice steps for the time axis, in microseconds.
  const T_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6,
    1e7, 15e6, 3e7, 6e7, 12e7, 3e8, 6e8, 9e8, 18e8, 36e8, 72e8, 108e8, 216e8, 432e8, 864e8, 1728e8, 6048e8,
    2592e9, 31536e9];

  function timeTicks(width) {
    const ticks = [];
    if (ordinal) {
      const span = view.x1 - view.x0;
      const per = Math.max(1, Math.ceil(span / Math.max(1, width / 120)));
      for (let m = Math.max(0, Math.ceil(view.x0)); m < nM && m <= view.x1; m += per) {
        ticks.push({p: m, label: '#' + m + ' ' + fmtTime(mUs[m], false, 0)});
      }
      return ticks;
    }
    const span = view.x1 - view.x0;
    const want = Math.max(2, width / 125);
    let step = T_STEPS[T_STEPS.length - 1];
    for (const s of T_STEPS) {
      if (span / s <= want) {
        step = s;
        break;
      }
    }
    const digits = step < 1e3 ? 6 : step < 1e6 ? (step < 1e4 ? 3 : step < 1e5 ? 2 : 1) : 0;
    for (let t = Math.ceil(view.x0 / step) * step; t <= view.x1; t += step) {
      const label = step >= 864e8 ? fmtTime(t, true, 0).slice(5, 16) : fmtTime(t, false, digits);
      ticks.push({p: t, label: step >= 6e7 && step < 864e8 ? label.slice(0, 5) : label});
    }
    return ticks;
  }

  function renderMap() {
    const w = Math.max(300, wrap.clientWidth), h = Math.max(200, wrap.clientHeight);
    renderedSize = wrap.clientWidth + 'x' + wrap.clientHeight;
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('width', String(w));
    svg.setAttribute('height', String(h));
    plot = {left: leftMargin, right: w - 14, top: 20, bottom: h - 24};
    svg.replaceChildren();
    const pw = plot.right - plot.left, ph = plot.bottom - plot.top;
    const defs = sv('defs', {}, svg);
    const clip = sv('clipPath', {id: 'plot-clip'}, defs);
    sv('rect', {x: plot.left, y: plot.top - 12, width: pw, height: ph + 12}, clip);

    const gGrid = sv('g', {}, svg);
    const gBreaks = sv('g', {'clip-path': 'url(#plot-clip)'}, svg);
    gSlab = sv('g', {'clip-path': 'url(#plot-clip)'}, svg);
    gBars = sv('g', {'clip-path': 'url(#plot-clip)', id: 'bars'}, svg);
    const gAxis = sv('g', {}, svg);
    gMarks = sv('g', {'clip-path': 'url(#plot-clip)'}, svg);

    // Time grid and labels.
    for (const t of timeTicks(pw)) {
      const x = X(t.p);
      if (x < plot.left - 0.5 || x > plot.right + 0.5) continue;
      sv('line', {class: 'grid', x1: x, x2: x, y1: plot.top, y2: plot.bottom}, gGrid);
      sv('line', {class: 'tick', x1: x, x2: x, y1: plot.bottom, y2: plot.bottom + 4}, gAxis);
      svText(gAxis, x, plot.bottom + 16, t.label, {'text-anchor': 'middle'});
    }
    sv('line', {class: 'axis-line', x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom}, gAxis);
    sv('line', {class: 'axis-line', x1: plot.left, x2: plot.left, y1: plot.top, y2: plot.bottom}, gAxis);

    // Collapsed gaps; a zigzag on the axis for each that has room.
    let lastMark = -Infinity;
    for (let i = 0; i + 1 < nB; i++) {
      if (!isBreak[i]) continue;
      const yt = Yp(Y[i + 1]), yb = Yp(Y[i]);
      if (yb < plot.top || yt > plot.bottom) continue;
      sv('rect', {class: 'break-band', x: plot.left, y: yt, width: pw, height: Math.max(0.5, yb - yt)}, gBreaks);
      const ym = (yt + yb) / 2;
      if (ym >= plot.top && ym <= plot.bottom && Math.abs(ym - lastMark) >= 9) {
        lastMark = ym;
        const zz = 'M' + (plot.left - 7) + ' ' + (ym + 3) + ' l4 -6 l4 6 l4 -6 l4 6';
        sv('path', {class: 'break-mark', d: zz}, gAxis);
        if (yb - yt >= 11) {
          svText(gBreaks, plot.left + 6, ym + 3.5, '\u2248 ' + fmtBytes(bAddr[i + 1] - bAddr[i]) + ' unmapped',
            {class: 'break-text'});
        }
      }
    }

    // Address labels: cluster edges first, then what fits.
    const occupied = new Uint8Array(Math.ceil(h) + 2);
    const placeLabel = (k) => {
      const y = Yp(Y[k]);
      if (y < plot.top - 1 || y > plot.bottom + 1) return;
      const yi = Math.round(y);
      for (let d = -6; d <= 6; d++) if (occupied[yi + d]) return;
      for (let d = -6; d <= 6; d++) if (yi + d >= 0 && yi + d < occupied.length) occupied[yi + d] = 1;
      sv('line', {class: 'tick', x1: plot.left - 4, x2: plot.left, y1: y, y2: y}, gAxis);
      svText(gAxis, plot.left - 6, y + 3.5, D.bounds[k], {class: 'mono', 'text-anchor': 'end'});
    };
    if (nB > 0) {
      placeLabel(0);
      placeLabel(nB - 1);
    }
    for (let i = 0; i + 1 < nB; i++) {
      if (isBreak[i]) {
        placeLabel(i);
        placeLabel(i + 1);
      }
    }
    {
      // Only boundaries at least a pixel apart can get a label.
      let lastY = Infinity;
      for (let k = 0; k < nB; k++) {
        const y = Yp(Y[k]);
        if (y < plot.top || y > plot.bottom || Math.abs(lastY - y) < 1) continue;
        lastY = y;
        placeLabel(k);
      }
    }

    drawBars();
    drawMarks();
  }

  // Draws every region as a bar from the moment it appeared to the moment
  // it went.  A bar less than a pixel high (or wide) cannot be seen alone:
  // such bars in the same pixel row (or column) that touch in time (or
  // address) are merged into one, which says how many it holds.
  function drawBars() {
    const pw = plot.right - plot.left, ph = plot.bottom - plot.top;
    const sx = pw / (view.x1 - view.x0), sy = ph / (view.y1 - view.y0);
    const rows = new Map(), cols = new Map();
    const xa = new Float64Array(nR), xb = new Float64Array(nR), ya = new Float64Array(nR), yb = new Float64Array(nR);
    const frag = document.createDocumentFragment(), onTop = document.createDocumentFragment();
    let single = 0, merged = 0;
    aggMembers = [];
    for (let r = 0; r < nR; r++) {
      let a = plot.left + (pos[rFrom[r]] - view.x0) * sx, b = plot.left + (pos[rTo[r]] - view.x0) * sx;
      if (b <= plot.left || a >= plot.right) continue;
      let top = plot.bottom - (Y[rE[r]] - view.y0) * sy, bot = plot.bottom - (Y[rS[r]] - view.y0) * sy;
      if (bot <= plot.top || top >= plot.bottom) continue;
      if (a < plot.left) a = plot.left;
      if (b > plot.right) b = plot.right;
      if (top < plot.top) top = plot.top;
      if (bot > plot.bottom) bot = plot.bottom;
      xa[r] = a;
      xb[r] = b;
      ya[r] = top;
      yb[r] = bot;
      const alarm = rKind[r] === rwxKind;
      if ((bot - top >= 1 && b - a >= 1) || alarm) {
        // An rwx region is never merged away: at least 2 pixels, on top.
        if (alarm && bot - top < 2) {
          const c = (top + bot) / 2;
          top = c - 1;
          bot = c + 1;
        }
        if (alarm && b - a < 2) b = a + 2;
        const rect = sv('rect', {
          class: 'b k-' + kinds[rKind[r]][0],
          x: a.toFixed(2), y: top.toFixed(2), width: (b - a).toFixed(2), height: (bot - top).toFixed(2),
          'data-i': r, 'data-s': D.bounds[rS[r]], 'data-e': D.bounds[rE[r]],
        });
        (alarm ? onTop : frag).appendChild(rect);
        single++;
      } else if (bot - top < 1) {
        const row = Math.floor((top + bot) / 2);
        let list = rows.get(row);
        if (!list) rows.set(row, list = []);
        list.push(r);
      } else {
        const col = Math.floor(a);
        let list = cols.get(col);
        if (!list) cols.set(col, list = []);
        list.push(r);
      }
    }
    // One merged bar per run of touching small bars.
    const emit = (members, x, y, w, h) => {
      const count = new Uint32Array(K);
      for (const r of members) count[rKind[r]]++;
      let best = 0;
      for (let k = 1; k < K; k++) if (count[k] > count[best]) best = k;
      const idx = aggMembers.length;
      aggMembers.push(members);
      frag.appendChild(sv('rect', {
        class: 'b agg k-' + kinds[best][0], x: x.toFixed(2), y: y.toFixed(2), width: w.toFixed(2),
        height: h.toFixed(2), 'data-agg': idx, 'data-n': members.length,
      }));
      merged += members.length;
    };
    // Within a pixel row (or column), the bars whose extents [lo, hi)
    // along it touch, within a pixel, make one run.
    const runs = (lists, lo, hi, emitRun) => {
      for (const [line, list] of lists) {
        list.sort((p, q) => lo[p] - lo[q]);
        let run = [list[0]], start = lo[list[0]], end = hi[list[0]];
        for (let i = 1; i <= list.length; i++) {
          const r = list[i];
          if (i < list.length && lo[r] <= end + 1) {
            run.push(r);
            if (hi[r] > end) end = hi[r];
            continue;
          }
          emitRun(run, line, start, Math.max(1, end - start));
          if (i < list.length) {
            run = [r];
            start = lo[r];
            end = hi[r];
          }
        }
      }
    };
    runs(rows, xa, xb, (run, row, start, len) => emit(run, start, row, len, 1));
    runs(cols, ya, yb, (run, col, start, len) => emit(run, col, start, 1, len));
    gBars.appendChild(frag);
    gBars.appendChild(onTop);
    svg.dataset.bars = String(single);
    svg.dataset.merged = String(merged);
    svg.dataset.mergedBars = String(aggMembers.length);
    if (merged > 0) {
      aggNote.hidden = false;
      aggNote.textContent = 'At this zoom ' + fmtInt(merged) + ' region' + (merged === 1 ? '' : 's') +
        ' narrower than a pixel ' + (merged === 1 ? 'is' : 'are') + ' drawn merged into ' +
        fmtInt(aggMembers.length) + ' bar' + (aggMembers.length === 1 ? '' : 's') +
        ' (lighter; each takes the colour of most of its regions; rwx regions are always drawn alone). ' +
        'Zoom in to see them one by one; ' + fmtInt(single) + ' bars are drawn alone.';
    } else {
      aggNote.hidden = true;
      aggNote.textContent = '';
    }
  }

  function drawMarks() {
    gMarks.replaceChildren();
    gSlab.replaceChildren();
    const top = plot.top, bot = plot.bottom;
    if (sel >= 0) {
      const a = Math.max(plot.left, X(pos[sel])), b = Math.min(plot.right, X(pos[sel + 1]));
      if (b > a) sv('rect', {class: 'slab', x: a, y: top, width: b - a, height: bot - top}, gSlab);
      const x = X(pos[sel]);
      sv('line', {class: 'cursor', x1: x, x2: x, y1: top - 10, y2: bot}, gMarks);
    }
    for (let m = 0; m < nM; m++) {
      const mo = moments[m];
      if ((mo.new && m > 0) || mo.res === 'bad') {
        const x = X(pos[m]);
        if (x < plot.left || x > plot.right) continue;
        const line = sv('line', {class: mo.res === 'bad' ? 'badline' : 'proc', x1: x, x2: x, y1: top, y2: bot}, gMarks);
        const t = sv('title', {}, line);
        t.textContent = mo.res === 'bad' ? shownText(mo.file + ': ' + mo.fault) : 'pid ' + mo.pid + ' starts';
        if (mo.new && mo.res !== 'bad') svText(gMarks, x + 3, top + 10, 'pid ' + mo.pid, {});
      }
    }
    if (!ordinal && tEnd > lastUs && nM) {
      const x = X(lastUs);
      if (x >= plot.left && x <= plot.right) {
        const line = sv('line', {class: 'last', x1: x, x2: x, y1: top, y2: bot}, gMarks);
        sv('title', {}, line).textContent = 'last recorded moment: the state after it is what was recorded last';
      }
    }
    D.alerts.forEach((al, i) => {
      const x = X(posOfTime(al.us));
      if (x < plot.left - 1 || x > plot.right + 1) return;
      sv('path', {
        class: 'alert-mark' + (al.event === 'alert' ? '' : ' cleared'),
        d: 'M' + (x - 5) + ' ' + (top - 10) + ' l10 0 l-5 8 z', 'data-alert': i,
      }, gMarks);
    });
    markAt();
  }

  // Marks the bars alive at the selected moment (class "at"; a merged bar
  // gets data-at-n, how many of its regions are), so that what is drawn
  // can be checked against `agent replay --at`.
  function markAt() {
    if (!gBars) return;
    svg.classList.toggle('has-at', sel >= 0);
    for (const rect of gBars.children) {
      let n = 0;
      if (sel >= 0) {
        if (rect.dataset.i !== undefined) {
          const r = Number(rect.dataset.i);
          n = rFrom[r] <= sel && sel < rTo[r] && moments[sel].state ? 1 : 0;
          rect.classList.toggle('hl', r === hlRegion);
        } else {
          for (const r of aggMembers[Number(rect.dataset.agg)]) if (rFrom[r] <= sel && sel < rTo[r]) n++;
          if (!moments[sel].state) n = 0;
        }
      }
      rect.classList.toggle('at', n > 0);
      if (rect.dataset.agg !== undefined) {
        if (n > 0) rect.dataset.atN = String(n);
        else delete rect.dataset.atN;
      }
    }
  }

  // ---- Charts -----------------------------------------------------------
  function renderChart(svgEl, arr, title, fmt) {
    const w = Math.max(300, svgEl.clientWidth || wrap.clientWidth), h = Math.max(60, svgEl.clientHeight || 104);
    svgEl.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svgEl.replaceChildren();
    const top = 16, bot = h - 6;
    const m0 = Math.max(0, momentAtPos(view.x0)), m1 = Math.min(nM - 1, Math.max(0, momentAtPos(view.x1)));
    let max = 0;
    for (let m = m0; m <= m1; m++) max = Math.max(max, totalAt(arr, m));
    if (max <= 0) max = 1;
    const Yc = (v) => bot - v / max * (bot - top);
    const clipId = svgEl.id + '-clip';
    const cp = sv('clipPath', {id: clipId}, sv('defs', {}, svgEl));
    sv('rect', {x: plot.left, y: 0, width: plot.right - plot.left, height: h}, cp);
    const g = sv('g', {'clip-path': 'url(#' + clipId + ')'}, svgEl);
    // One step per pixel column at most: the first moment in each.
    const keep = [];
    let lastPx = -Infinity;
    for (let m = m0; m <= m1; m++) {
      const px = Math.floor(X(pos[m]));
      if (px !== lastPx) keep.push(m);
      lastPx = px;
    }
    const base = new Float64Array(keep.length);
    for (let k = 0; k < K; k++) {
      let any = false;
      for (let m = m0; m <= m1 && !any; m++) any = arr[m * K + k] > 0;
      if (!any) continue;
      const up = [], down = [];
      for (let i = 0; i < keep.length; i++) {
        const m = keep[i], next = i + 1 < keep.length ? keep[i + 1] : m1 + 1;
        const xa = Math.max(plot.left - 1, X(pos[m])).toFixed(1);
        const xb = Math.min(plot.right + 1, X(pos[next])).toFixed(1);
        const b = base[i], t = b + arr[m * K + k];
        up.push((i ? 'L' : 'M') + xa + ' ' + Yc(t).toFixed(1) + 'L' + xb + ' ' + Yc(t).toFixed(1));
        down.push('L' + xb + ' ' + Yc(b).toFixed(1) + 'L' + xa + ' ' + Yc(b).toFixed(1));
        base[i] = t;
      }
      sv('path', {class: 'k-' + kinds[k][0], d: up.join('') + down.reverse().join('') + 'Z'}, g);
    }
    sv('line', {class: 'axis-line', x1: plot.left, x2: plot.right, y1: bot, y2: bot}, svgEl);
    sv('line', {class: 'axis-line', x1: plot.left, x2: plot.left, y1: top, y2: bot}, svgEl);
    svText(svgEl, plot.left - 6, top + 4, fmt(max), {'text-anchor': 'end'});
    svText(svgEl, plot.left - 6, bot, '0', {'text-anchor': 'end'});
    svText(svgEl, plot.left + 6, top - 4, title, {class: 'title'});
    if (sel >= 0) {
      const x = X(pos[sel]);
      if (x >= plot.left && x <= plot.right) sv('line', {class: 'cursor', x1: x, x2: x, y1: top, y2: bot}, svgEl);
    }
  }
  const chartCount = document.getElementById('chart-count');
  const chartBytes = document.getElementById('chart-bytes');
  function renderCharts() {
    renderChart(chartCount, cnt, 'Regions by kind', fmtInt);
    renderChart(chartBytes, byt, 'Mapped bytes by kind', fmtBytes);
  }

  function renderAll() {
    clampView();
    renderMap();
    renderCharts();
  }
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      try {
        renderAll();
      } catch (e) {
        reportError(e && e.stack ? e.stack : String(e));
      }
    });
  }

  // ---- Lists ------------------------------------------------------------
  // A list is a header table and its rows in tables of CHUNK rows.  Only
  // the chunks near what the box shows are built (the first one always);
  // the others are boxes of the height their rows will take, so that a
  // history of any length costs the first paint nothing.  Rows are one
  // line high and the column widths are fixed, so that the tables line up.
  const CHUNK = 64, ROW_H = 21;
  function fillList(box, n, makeRow, onClick) {
    const cg = box.querySelector('colgroup');
    const chunks = [];
    const frag = document.createDocumentFragment();
    for (let i = 0; i < n; i += CHUNK) {
      const div = el('div', 'chunk', frag);
      div.style.height = Math.min(CHUNK, n - i) * ROW_H + 'px';
      chunks.push({div: div, from: i, to: Math.min(n, i + CHUNK), built: false});
    }
    box.appendChild(frag);
    const build = (c) => {
      if (c.built) return;
      c.built = true;
      const t = el('table', '', c.div);
      t.appendChild(cg.cloneNode(true));
      const tb = el('tbody', '', t);
      for (let j = c.from; j < c.to; j++) tb.appendChild(makeRow(j));
      c.div.style.height = '';
    };
    const buildVisible = () => {
      const top = box.scrollTop - 2 * CHUNK * ROW_H, bottom = box.scrollTop + box.clientHeight + 2 * CHUNK * ROW_H;
      for (const c of chunks) {
        if (c.built) continue;
        const y = c.div.offsetTop;
        if (y + c.div.offsetHeight >= top && y <= bottom) build(c);
      }
    };
    if (chunks.length) build(chunks[0]);
    let pendingScroll = false;
    box.addEventListener('scroll', () => {
      if (pendingScroll) return;
      pendingScroll = true;
      requestAnimationFrame(() => {
        pendingScroll = false;
        buildVisible();
      });
    });
    box.addEventListener('click', (e) => {
      const tr = e.target.closest('tr');
      if (tr && tr.parentNode.tagName === 'TBODY') onClick(tr);
    });
    // Builds the chunk of row i; returns nothing.
    return (i) => {
      if (i >= 0 && i < n) build(chunks[Math.floor(i / CHUNK)]);
    };
  }

  const momentRows = [];
  let ensureMomentRow = () => {};
  const alertsAt = new Uint32Array(nM);

  function momentRow(m) {
    const mo = moments[m];
    const tr = el('tr', mo.res === 'good' ? '' : mo.res);
    tr.dataset.m = String(m);
    el('td', 'num', tr, String(m));
    el('td', 'time', tr, fmtTime(mo.us, true));
    el('td', 'num', tr, String(mo.pid));
    const f = el('td', '', tr);
    el('span', 'tag' + (mo.full ? ' full' : ''), f, mo.full ? 'full' : 'diff').title = mo.file;
    const c = el('td', 'num', tr);
    if (mo.res === 'good') {
      if (mo.new) el('span', '', c, m > 0 ? 'new process' : D.from ? 'state at --from' : 'first snapshot');
      else {
        el('span', 'add', c, '+' + mo.add);
        c.appendChild(document.createTextNode(' '));
        el('span', 'rm', c, '\u2212' + mo.rm);
        c.appendChild(document.createTextNode(' '));
        el('span', 'chg', c, '~' + mo.chg);
      }
    }
    el('td', 'num', tr, mo.state ? fmtInt(mo.n) : '\u2013');
    el('td', 'num', tr, mo.state ? fmtBytes(totalAt(byt, m)) : '\u2013');
    const note = el('td', '', tr);
    let text = '';
    if (mo.res === 'bad') text = 'unreadable: ' + mo.fault + ' (shown: the last good state)';
    else if (mo.res === 'skipped') text = 'not read: its chain broke before it';
    else if (mo.new && m > 0) text = 'pid ' + mo.pid + ' starts';
    if (text) {
      appendShown(note, text);
      note.title = shownText(text);
    }
    if (alertsAt[m]) {
      if (note.firstChild) note.appendChild(document.createTextNode(' '));
      el('span', 'tag alarm', note, alertsAt[m] + ' alert' + (alertsAt[m] === 1 ? '' : 's'));
    }
    if (m === sel) tr.classList.add('sel');
    momentRows[m] = tr;
    return tr;
  }

  function fillMoments() {
    document.getElementById('moments-count').textContent = '(' + fmtInt(nM) + ')';
    for (const al of D.alerts) if (al.moment >= 0) alertsAt[al.moment]++;
    ensureMomentRow = fillList(document.getElementById('moments'), nM, momentRow,
      (tr) => selectMoment(Number(tr.dataset.m), {reveal: true}));
  }

  // Links each alert to its moment: the one nearest in time at which a
  // region with its start address appeared (or, cleared, went); else the
  // last moment at or before it.
  function linkAlerts() {
    for (const al of D.alerts) {
      al.moment = -1;
      al.region = -1;
      const key = String(al.start).toLowerCase().replace(/^0+(?=.)/, '');
      const b = boundIndex.get(key);
      let best = -1, bestD = Infinity;
      if (b !== undefined) {
        let lo = 0, hi = nR;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (rS[mid] < b) lo = mid + 1;
          else hi = mid;
        }
        for (let r = lo; r < nR && rS[r] === b; r++) {
          const m = al.event === 'alert' ? rFrom[r] : rTo[r];
          if (m >= nM) continue;
          const d = Math.abs(mUs[m] - al.us);
          if (d < bestD) {
            bestD = d;
            best = r;
            al.moment = m;
          }
        }
      }
      al.region = best;
      if (al.moment < 0) al.moment = Math.max(0, momentAt(al.us));
    }
  }

  function alertRow(i) {
    const al = D.alerts[i];
    const tr = el('tr', '');
    if (!al) {
      el('td', '', tr, 'No alerts in this time range.').colSpan = 5;
      return tr;
    }
    tr.dataset.a = String(i);
    tr.dataset.moment = String(al.moment);
    el('td', 'time', tr, fmtTime(al.us, true));
    const ev = el('td', '', tr);
    el('span', 'tag' + (al.event === 'alert' ? ' alarm' : ''), ev, al.event === 'alert' ? 'raised' : 'cleared');
    el('td', '', tr, al.rule);
    el('td', 'region', tr, al.region).title = 'the maps line of the region';
    el('td', '', tr, al.reason);
    return tr;
  }

  function fillAlerts() {
    document.getElementById('alerts-count').textContent = '(' + fmtInt(D.alerts.length) + ')';
    fillList(document.getElementById('alerts'), Math.max(1, D.alerts.length), alertRow, (tr) => {
      if (tr.dataset.a !== undefined) showAlert(Number(tr.dataset.a));
    });
  }

  function showAlert(i) {
    const al = D.alerts[i];
    if (!al) return;
    selectMoment(al.moment, {region: al.region, reveal: true});
  }

  // ---- The maps text of a moment ---------------------------------------
  const hash = parseHash();
  let savedBytes = null;
  let mapsScrolled = false;

  function parseHash() {
    const out = {};
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const k = eq < 0 ? part : part.slice(0, eq);
      let v = eq < 0 ? '' : part.slice(eq + 1);
      try {
        v = decodeURIComponent(v);
      } catch (e) {
        v = '';
      }
      out[k] = v;
    }
    return out;
  }

  // The regions alive at moment m, in address order.
  function aliveAt(m) {
    const out = [];
    if (m < 0 || !moments[m].state) return out;
    for (let r = 0; r < nR; r++) if (rFrom[r] <= m && m < rTo[r]) out.push(r);
    return out;
  }

  function textBytes(alive) {
    const parts = alive.map((r) => bytesOf(rLine[r]));
    let n = 0;
    for (const p of parts) n += p.length + 1;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
      out[o++] = 10;
    }
    return out;
  }

  function base64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  function showMaps(m) {
    const title = document.getElementById('maps-title');
    const sub = document.getElementById('maps-sub');
    const save = document.getElementById('save-maps');
    mapsText.replaceChildren();
    title.textContent = '';
    sub.textContent = '';
    savedBytes = null;
    if (m < 0) {
      appendShown(title, 'Maps');
      appendShown(sub, 'Nothing was recorded at or before that time.');
      save.disabled = true;
      atSummary.textContent = '';
      atSummary.dataset.state = '0';
      atSummary.dataset.regions = '0';
      return;
    }
    const mo = moments[m];
    appendShown(title, 'Maps at ' + fmtTime(mo.us, true) + ' UTC \u2014 moment ' + m + ' of ' + nM + ', pid ' + mo.pid);
    const alive = aliveAt(m);
    if (!mo.state) {
      appendShown(sub, 'No state can be rebuilt at this moment (no readable full snapshot before it): ' +
        '`agent replay --at` fails here too.');
    } else {
      appendShown(sub, 'Exactly what `agent replay ' + D.dir + ' --at ' + mo.t + '` prints' +
        (mo.res === 'good' ? '' : ' (this file is ' + (mo.res === 'bad' ? 'unreadable' : 'not read') +
          ': the last good state)') + '. Green: regions new or changed at this moment.');
    }
    // The text in blocks of TEXT_CHUNK lines; only those near what the box
    // shows are filled (the first TEXT_EAGER lines, and the marked region,
    // at once), so that 60,000 lines cost a click almost nothing.  Each
    // line is TEXT_LINE_H pixels high, so an empty block has its height.
    mapsChunks = [];
    let hlChunk = -1;
    for (let i = 0; i < alive.length; i += TEXT_CHUNK) {
      const span = el('span', 'mchunk', mapsText);
      const c = {el: span, from: i, to: Math.min(alive.length, i + TEXT_CHUNK), built: false};
      span.style.height = (c.to - c.from) * TEXT_LINE_H + 'px';
      mapsChunks.push(c);
      for (let j = c.from; j < c.to && hlChunk < 0; j++) if (alive[j] === hlRegion) hlChunk = mapsChunks.length - 1;
    }
    mapsAlive = alive;
    mapsMoment = m;
    for (const c of mapsChunks) {
      if (c.from < TEXT_EAGER || hash.bytes !== undefined) buildTextChunk(c);
    }
    let hlEl = null;
    if (hlChunk >= 0) {
      buildTextChunk(mapsChunks[hlChunk]);
      hlEl = mapsChunks[hlChunk].el.querySelector('.hl');
    }
    mapsText.dataset.moment = mo.t;
    mapsText.dataset.lines = String(alive.length);
    save.disabled = !mo.state;
    if (hash.bytes !== undefined) mapsText.dataset.b64 = base64(textBytes(alive));
    atSummary.textContent = mo.state ? fmtInt(alive.length) + ' regions, ' + fmtBytes(totalAt(byt, m)) + ' mapped' : '';
    atSummary.dataset.moment = mo.t;
    atSummary.dataset.index = String(m);
    atSummary.dataset.state = mo.state ? '1' : '0';
    atSummary.dataset.regions = String(alive.length);
    // Reading a layout property lays out the whole text: only for a
    // region to bring into view.
    if (hlEl) {
      mapsText.scrollTop = Math.max(0, hlEl.offsetTop - mapsText.offsetTop - 40);
      mapsScrolled = true;
    } else if (mapsScrolled) {
      mapsText.scrollTop = 0;
      mapsScrolled = false;
    }
  }

  const TEXT_CHUNK = 1000, TEXT_EAGER = 2000, TEXT_LINE_H = 16;
  let mapsChunks = [], mapsAlive = [], mapsMoment = -1;

  function buildTextChunk(c) {
    if (c.built) return;
    c.built = true;
    const mo = moments[mapsMoment];
    const frag = document.createDocumentFragment();
    let chunk = '';
    for (let j = c.from; j < c.to; j++) {
      const r = mapsAlive[j];
      const fresh = rFrom[r] === mapsMoment && mo.res === 'good' && !mo.new;
      if (!fresh && r !== hlRegion) {
        chunk += rLine[r] + '\n';
        continue;
      }
      if (chunk) appendShown(frag, chunk);
      chunk = '';
      el('span', (fresh ? 'new' : '') + (r === hlRegion ? ' hl' : ''), frag, rLine[r] + '\n');
    }
    if (chunk) appendShown(frag, chunk);
    c.el.appendChild(frag);
    c.el.style.height = '';
  }

  // Fills the blocks of text near what the box shows.
  function buildVisibleText() {
    const top = mapsText.scrollTop - TEXT_CHUNK * TEXT_LINE_H;
    const bottom = mapsText.scrollTop + mapsText.clientHeight + TEXT_CHUNK * TEXT_LINE_H;
    for (const c of mapsChunks) {
      const y = c.from * TEXT_LINE_H;
      if (!c.built && y + (c.to - c.from) * TEXT_LINE_H >= top && y <= bottom) buildTextChunk(c);
    }
  }
  let textPending = false;
  mapsText.addEventListener('scroll', () => {
    if (textPending) return;
    textPending = true;
    requestAnimationFrame(() => {
      textPending = false;
      buildVisibleText();
    });
  });

  document.getElementById('save-maps').addEventListener('click', () => {
    if (sel < 0 || !moments[sel].state) return;
    savedBytes = textBytes(aliveAt(sel));
    const blob = new Blob([savedBytes], {type: 'application/octet-stream'});
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'maps_' + target.replace(/[^A-Za-z0-9._-]/g, '_') + '_' + moments[sel].t + '.txt';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  });

  function selectMoment(m, opts) {
    opts = opts || {};
    if (nM === 0) return;
    m = Math.max(0, Math.min(nM - 1, m));
    sel = m;
    hlRegion = opts.region !== undefined ? opts.region : -1;
    for (const tr of document.querySelectorAll('tr.sel')) tr.classList.remove('sel');
    ensureMomentRow(m);
    const row = momentRows[m];
    if (row) {
      row.classList.add('sel');
      if (opts.reveal) {
        const box = row.closest('.scroll');
        if (box) {
          const dy = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
          box.scrollTop += dy - box.clientHeight / 2;
        }
      }
    }
    if (opts.reveal && !ordinal) {
      // Bring the moment into view when it is outside.
      const p = pos[m];
      if (p < view.x0 || p > view.x1) {
        const span = view.x1 - view.x0;
        view.x0 = p - span / 2;
        view.x1 = p + span / 2;
        clampView();
        renderAll();
      }
    }
    if (gMarks) drawMarks();
    renderCharts();
    showMaps(m);
    if (!opts.keepHash) {
      try {
        history.replaceState(null, '', '#at=' + moments[m].t + (hash.bytes !== undefined ? '&bytes' : ''));
      } catch (e) {
        // A page opened from somewhere that forbids it keeps its address.
      }
    }
  }

  // ---- Interaction ------------------------------------------------------
  function hideTip() {
    tip.hidden = true;
    tip.replaceChildren();
  }

  function showTip(evt, fill) {
    tip.replaceChildren();
    fill(tip);
    tip.hidden = false;
    const box = wrap.getBoundingClientRect();
    let x = evt.clientX - box.left + 14, y = evt.clientY - box.top + 14;
    if (x + tip.offsetWidth > box.width - 4) x = Math.max(4, evt.clientX - box.left - tip.offsetWidth - 14);
    if (y + tip.offsetHeight > box.height - 4) y = Math.max(4, evt.clientY - box.top - tip.offsetHeight - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }

  function kindLabel(parent, k) {
    const s = el('span', 'kind', parent);
    el('span', 'sw k-' + kinds[k][0], s);
    el('span', '', s, kinds[k][1]);
  }

  function regionTip(r) {
    return (t) => {
      kindLabel(t, rKind[r]);
      el('div', 'line', t, rLine[r]);
      const from = moments[rFrom[r]];
      const endText = rTo[r] >= nM ? 'still there at the last recorded moment' :
        'gone at ' + fmtTime(mUs[rTo[r]], true) + ' (moment ' + rTo[r] + ')';
      el('div', '', t, 'from ' + fmtTime(from.us, true) + ' (moment ' + rFrom[r] + '), ' + endText);
      const dur = (rTo[r] >= nM ? lastUs : mUs[rTo[r]]) - from.us;
      el('div', 'muted', t, fmtBytes(bAddr[rE[r]] - bAddr[rS[r]]) + (rTo[r] >= nM ? ', for at least ' : ', for ') +
        fmtDuration(dur) + ' \u00b7 click for the maps of that moment');
    };
  }

  function aggTip(i) {
    return (t) => {
      const members = aggMembers[i];
      const count = new Uint32Array(K);
      let lo = Infinity, hi = -Infinity;
      for (const r of members) {
        count[rKind[r]]++;
        lo = Math.min(lo, rS[r]);
        hi = Math.max(hi, rE[r]);
      }
      el('div', '', t, fmtInt(members.length) + ' regions merged into one bar: each is narrower than a pixel at ' +
        'this zoom. Zoom in to see them one by one.');
      el('div', 'line', t, D.bounds[lo] + '\u2013' + D.bounds[hi]);
      for (let k = 0; k < K; k++) {
        if (!count[k]) continue;
        const d = el('div', '', t);
        kindLabel(d, k);
        d.appendChild(document.createTextNode(' ' + fmtInt(count[k])));
      }
    };
  }

  function alertTip(i) {
    const al = D.alerts[i];
    return (t) => {
      el('div', '', t, (al.event === 'alert' ? 'Alert ' : 'Alert cleared: ') + al.rule + ' at ' + fmtTime(al.us, true));
      el('div', 'line', t, al.region);
      el('div', 'muted', t, al.reason);
    };
  }

  // The address at axis position u, as maps writes it ("" outside the
  // regions' range; a collapsed gap says so).
  function addrAt(u) {
    if (nB < 2 || u < 0 || u > W) return '';
    let lo = 0, hi = nB - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (Y[mid] <= u) lo = mid;
      else hi = mid;
    }
    if (isBreak[lo]) return D.bounds[lo] + '\u2013' + D.bounds[lo + 1] + ' (empty, collapsed)';
    const a = bAddr[lo] + (u - Y[lo]) / (Y[lo + 1] - Y[lo]) * (bAddr[lo + 1] - bAddr[lo]);
    const page = Math.floor(a / 4096);
    const hiPart = Math.floor(page / 1048576), loPart = page % 1048576;
    return (hiPart ? hiPart.toString(16) + loPart.toString(16).padStart(5, '0') : loPart.toString(16)) + '000';
  }

  const readout = document.getElementById('readout');
  function showReadout(e) {
    const p = svgPoint(e);
    if (p.x < plot.left || p.x > plot.right || p.y < plot.top || p.y > plot.bottom) {
      readout.textContent = '';
      return;
    }
    const pp = invX(p.x);
    const us = ordinal ? (() => {
      const m = Math.max(0, Math.min(nM - 1, Math.floor(pp)));
      return mUs[m];
    })() : pp;
    readout.textContent = fmtTime(us, false, 3) + ' \u00b7 ' + addrAt(invY(p.y));
  }

  let drag = null;
  svg.addEventListener('mousemove', (e) => {
    if (drag) return;
    showReadout(e);
    const d = e.target.dataset || {};
    if (d.i !== undefined) showTip(e, regionTip(Number(d.i)));
    else if (d.agg !== undefined) showTip(e, aggTip(Number(d.agg)));
    else if (d.alert !== undefined) showTip(e, alertTip(Number(d.alert)));
    else hideTip();
  });
  svg.addEventListener('mouseleave', () => {
    hideTip();
    readout.textContent = '';
  });

  function svgPoint(e) {
    const box = svg.getBoundingClientRect();
    return {x: e.clientX - box.left, y: e.clientY - box.top};
  }

  svg.addEventListener('mousedown', (e) => {
    if (e.button !== 0) return;
    const p = svgPoint(e);
    drag = {x: p.x, y: p.y, x0: view.x0, x1: view.x1, y0: view.y0, y1: view.y1, moved: false, target: e.target};
    e.preventDefault();
  });
  window.addEventListener('mousemove', (e) => {
    if (!drag) return;
    const p = svgPoint(e);
    const dx = p.x - drag.x, dy = p.y - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true;
    wrap.classList.add('dragging');
    hideTip();
    const ux = (drag.x1 - drag.x0) / (plot.right - plot.left), uy = (drag.y1 - drag.y0) / (plot.bottom - plot.top);
    view.x0 = drag.x0 - dx * ux;
    view.x1 = drag.x1 - dx * ux;
    view.y0 = drag.y0 + dy * uy;
    view.y1 = drag.y1 + dy * uy;
    schedule();
  });
  window.addEventListener('mouseup', (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    wrap.classList.remove('dragging');
    if (d.moved) return;
    const t = d.target.dataset || {};
    if (t.alert !== undefined) {
      showAlert(Number(t.alert));
      return;
    }
    const p = svgPoint(e);
    if (p.x < plot.left || p.x > plot.right) return;
    let m = momentAtPos(invX(p.x));
    if (t.i !== undefined) {
      const r = Number(t.i);
      if (m < rFrom[r] || m >= rTo[r]) m = rFrom[r];
      selectMoment(m, {region: r, reveal: true});
    } else {
      selectMoment(Math.max(0, m), {reveal: true});
    }
  });

  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const p = svgPoint(e);
    const f = Math.pow(1.0015, e.deltaY * (e.deltaMode === 1 ? 30 : 1));
    if (e.shiftKey || p.x < plot.left) zoomAddr(f, p.y);
    else zoomTime(f, p.x);
  }, {passive: false});

  function zoomTime(f, px) {
    const c = invX(px === undefined ? (plot.left + plot.right) / 2 : px);
    view.x0 = c - (c - view.x0) * f;
    view.x1 = c + (view.x1 - c) * f;
    schedule();
  }
  function zoomAddr(f, py) {
    const c = invY(py === undefined ? (plot.top + plot.bottom) / 2 : py);
    view.y0 = c - (c - view.y0) * f;
    view.y1 = c + (view.y1 - c) * f;
    schedule();
  }
  function panTime(frac) {
    const d = (view.x1 - view.x0) * frac;
    view.x0 += d;
    view.x1 += d;
    schedule();
  }
  function panAddr(frac) {
    const d = (view.y1 - view.y0) * frac;
    view.y0 += d;
    view.y1 += d;
    schedule();
  }
  function toggleTimescale() {
    const d0 = xDom();
    const f0 = (view.x0 - d0[0]) / (d0[1] - d0[0]), f1 = (view.x1 - d0[0]) / (d0[1] - d0[0]);
    ordinal = !ordinal;
    setPositions();
    const d = xDom();
    view.x0 = d[0] + f0 * (d[1] - d[0]);
    view.x1 = d[0] + f1 * (d[1] - d[0]);
    document.getElementById('timescale').textContent = ordinal ? 'Time: by moment' : 'Time: real';
    schedule();
  }

  const actions = {
    'tzoom-in': () => zoomTime(0.6),
    'tzoom-out': () => zoomTime(1 / 0.6),
    'tpan-left': () => panTime(-0.25),
    'tpan-right': () => panTime(0.25),
    'azoom-in': () => zoomAddr(0.6),
    'azoom-out': () => zoomAddr(1 / 0.6),
    'apan-up': () => panAddr(0.25),
    'apan-down': () => panAddr(-0.25),
    'reset': () => {
      resetView();
      schedule();
    },
    'timescale': toggleTimescale,
    'prev': () => selectMoment(sel < 0 ? nM - 1 : sel - 1, {reveal: true}),
    'next': () => selectMoment(sel < 0 ? 0 : sel + 1, {reveal: true}),
  };
  document.querySelector('.toolbar').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (b && actions[b.dataset.act]) actions[b.dataset.act]();
  });
  const keys = {
    'ArrowLeft': 'tpan-left', 'ArrowRight': 'tpan-right', 'ArrowUp': 'apan-up', 'ArrowDown': 'apan-down',
    '+': 'tzoom-in', '=': 'tzoom-in', '-': 'tzoom-out', '_': 'tzoom-out', ']': 'azoom-in', '[': 'azoom-out',
    '0': 'reset', 'n': 'next', 'p': 'prev', 't': 'timescale',
  };
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target && e.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA') return;
    const act = keys[e.key];
    if (!act) return;
    e.preventDefault();
    actions[act]();
  });
  window.addEventListener('resize', schedule);
  // The map's box changes size with the window and the layout around it.
  new ResizeObserver(() => {
    if (wrap.clientWidth + 'x' + wrap.clientHeight !== renderedSize) schedule();
  }).observe(wrap);

  // ---- Start ------------------------------------------------------------
  // With #bench (bench/report_bench.sh): the median time of a redraw
  // after a zoom, and of a click on a moment, in body[data-redraw-ms] and
  // body[data-select-ms].
  function bench() {
    const med = (v) => v.sort((p, q) => p - q)[v.length >> 1];
    const redraw = [], select = [];
    for (let i = 0; i < 7; i++) {
      const a = performance.now();
      if (i % 2) zoomTimeNow(1 / 0.6);
      else zoomTimeNow(0.6);
      redraw.push(performance.now() - a);
    }
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      selectMoment(Math.floor(nM * (i + 1) / 6), {keepHash: true});
      void mapsText.offsetHeight;
      select.push(performance.now() - a);
    }
    body.dataset.redrawMs = String(Math.round(med(redraw)));
    body.dataset.selectMs = String(Math.round(med(select)));
  }
  // With #selftest (tests/report_test.cc): what a person does with the
  // mouse and the keys, as synthetic events, and what each must change.
  // body[data-selftest] is "ok" or the list of what failed.
  function selftest() {
    const fails = [];
    const check = (ok, what) => {
      if (!ok) fails.push(what);
    };
    const box = svg.getBoundingClientRect();
    const at = (x, y) => ({clientX: box.left + x, clientY: box.top + y, bubbles: true, button: 0});
    const bar = gBars.querySelector('rect[data-i]');
    check(bar !== null, 'a bar drawn alone');
    if (bar) {
      const r = Number(bar.dataset.i);
      const bx = Number(bar.getAttribute('x')) + Number(bar.getAttribute('width')) / 2;
      const by = Number(bar.getAttribute('y')) + Number(bar.getAttribute('height')) / 2;
      bar.dispatchEvent(new MouseEvent('mousemove', at(bx, by)));
      check(!tip.hidden && tip.textContent.indexOf(D.bounds[rS[r]]) >= 0, 'hover shows the maps line');
      check(readout.textContent.indexOf(' \u00b7 ') > 0, 'hover shows time and address');
      bar.dispatchEvent(new MouseEvent('mousedown', at(bx, by)));
      window.dispatchEvent(new MouseEvent('mouseup', at(bx, by)));
      check(sel >= rFrom[r] && sel < rTo[r], 'a click selects a moment of the region');
      check(mapsText.querySelector('.hl') !== null, 'the clicked region is marked in the maps text');
    }
    const cx = (plot.left + plot.right) / 2, cy = (plot.top + plot.bottom) / 2;
    let span = view.x1 - view.x0;
    svg.dispatchEvent(new WheelEvent('wheel', Object.assign(at(cx, cy), {deltaY: -400, cancelable: true})));
    check(view.x1 - view.x0 < span * 0.8, 'the wheel zooms time');
    span = view.y1 - view.y0;
    svg.dispatchEvent(new WheelEvent('wheel', Object.assign(at(cx, cy), {deltaY: -400, shiftKey: true})));
    check(view.y1 - view.y0 < span * 0.8, 'shift+wheel zooms addresses');
    const x0 = view.x0, y0 = view.y0;
    svg.dispatchEvent(new MouseEvent('mousedown', at(cx, cy)));
    window.dispatchEvent(new MouseEvent('mousemove', at(cx - 80, cy + 40)));
    window.dispatchEvent(new MouseEvent('mouseup', at(cx - 80, cy + 40)));
    clampView();
    check(view.x0 > x0 && view.y0 > y0, 'dragging pans both axes');
    const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
    span = view.y1 - view.y0;
    key(']');
    check(view.y1 - view.y0 < span, '] zooms addresses');
    key('0');
    clampView();
    check(view.x0 === xDom()[0] && view.x1 === xDom()[1] && view.y0 === yDom[0], '0 shows everything');
    const before = sel;
    key('p');
    check(sel === Math.max(0, before - 1), 'p goes to the previous moment');
    key('t');
    check(ordinal, 't switches the time axis');
    key('t');
    document.querySelector('button[data-act="tzoom-in"]').click();
    check(view.x1 - view.x0 < xDom()[1] - xDom()[0], 'the + button zooms time');
    // A long text is filled as it is scrolled: scrolled through, it is whole.
    if (mapsChunks.length > 0) {
      const step = Math.max(mapsText.clientHeight, 100 * TEXT_LINE_H);
      for (let y = 0; y <= mapsText.scrollHeight; y += step) {
        mapsText.scrollTop = y;
        buildVisibleText();
      }
      const lines = (mapsText.textContent.match(/\n/g) || []).length;
      check(lines === mapsAlive.length, 'scrolled to its end, the maps text has every line (' + lines + ' of ' +
        mapsAlive.length + ')');
    }
    renderAll();
    body.dataset.selftest = fails.length ? fails.join('; ') : 'ok';
  }

  function zoomTimeNow(f) {
    const c = (view.x0 + view.x1) / 2;
    view.x0 = c - (c - view.x0) * f;
    view.x1 = c + (view.x1 - c) * f;
    renderAll();
  }

  function main() {
    mark('model');
    fillHeader();
    fillLegend();
    linkAlerts();
    fillMoments();
    fillAlerts();
    mark('lists');
    renderAll();
    mark('map');
    let m = nM - 1;
    if (hash.at !== undefined) {
      const us = parseTs(hash.at);
      if (us === null) {
        el('li', 'warn', document.getElementById('notes'), 'The address asks for #at=' + hash.at +
          ', which is not a timestamp (20261125T183328.123456Z or 2026-11-25T18:33:28Z): showing the last moment.');
      } else {
        m = momentAt(us);
      }
    }
    if (m >= 0) selectMoment(m, {reveal: true, keepHash: true});
    else showMaps(-1);
    mark('moment');
    body.dataset.timing = timing.join(' ');
    body.dataset.scriptMs = String(Math.round(performance.now() - t0));
    body.dataset.renderMs = String(Math.round(performance.now()));
    if (hash.bench !== undefined) bench();
    if (hash.selftest !== undefined) selftest();
    body.dataset.state = 'ready';
  }

  try {
    main();
  } catch (e) {
    body.dataset.state = 'failed';
    reportError(e && e.stack ? e.stack : String(e));
  }
})();
