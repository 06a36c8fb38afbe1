// panels.js: the list of moments, the alerts and the moment each is
// linked to, and the maps text of the selected moment.

// ---- Lists ------------------------------------------------------------
// A list is a header table and its rows in tables of CHUNK rows.  Only
// the chunks near what the box shows are built (the first one always);
// the others are boxes of the height their rows will take, so that a
// history of any length costs the first paint nothing.  Rows are one
// line high and the column widths are fixed, so that the tables line up.
// Calls fn once a frame at most while el scrolls.
function onScrollFrame(el, fn) {
  let pending = false;
  el.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  });
}

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
  onScrollFrame(box, buildVisible);
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
onScrollFrame(mapsText, buildVisibleText);

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
