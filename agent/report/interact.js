// interact.js: tooltips and the readout, mouse, wheel, keys and buttons,
// the #bench and #selftest hooks, and the start.

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
