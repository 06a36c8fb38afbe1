// map.js: the title and legend, the address-space map (axes, collapsed
// gaps, bars, merged bars, marks) and the charts under it.

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
