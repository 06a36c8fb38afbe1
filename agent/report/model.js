// model.js: the data (agent/report_page.h says what each field is) as
// typed arrays, the counts and bytes by kind after each moment, the
// piecewise address axis, the time axis, and the view (what the map
// shows of both).

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
