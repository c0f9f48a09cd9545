// rnnlab report / live dashboard: the loss axis's range. `lossRange` picks the full range or
// the range the curves mostly show (ignoring outliers), as `rnnlab plot --ylim auto|robust|full`
// does; report.js draws with it. Points are [step, value] pairs sorted by step.
const rnnlabRange = (function () {
  "use strict";

  function lowerBound(pts, step) {
    let lo = 0, hi = pts.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (pts[mid][0] < step) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function visible(pts, x0, x1) {
    return [Math.max(0, lowerBound(pts, x0) - 1), Math.min(pts.length, lowerBound(pts, x1) + 1)];
  }

  function yExtent(list, x0, x1, log, extra) {
    let lo = Infinity, hi = -Infinity;
    const take = (v) => {
      if (v == null || !isFinite(v) || (log && v <= 0)) return;
      const t = log ? Math.log10(v) : v;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    };
    for (const pts of list) {
      if (!pts) continue;
      const [i0, i1] = visible(pts, x0, x1);
      for (let i = i0; i < i1; i++) take(pts[i][1]);
    }
    for (const v of extra) take(v);
    if (!isFinite(lo)) return [0, 1];
    if (hi === lo) { lo -= 0.5; hi += 0.5; }
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad * 2.5];
  }

  // The range the curves mostly show (axis space): medians of short chunks of each series, so
  // a spike of a point or two never counts, a quarter of their span of room either side, never
  // beyond the data; widened to `extra` (the reference levels). Mirrors plot's robust_extent.
  function robustExtent(list, x0, x1, log, extra) {
    const medians = [];
    let lo = Infinity, hi = -Infinity;
    for (const pts of list) {
      if (!pts) continue;
      const [i0, i1] = visible(pts, x0, x1);
      const t = [];
      for (let i = i0; i < i1; i++) {
        const v = pts[i][1];
        if (v == null || !isFinite(v) || (log && v <= 0)) continue;
        t.push(log ? Math.log10(v) : v);
      }
      for (const v of t) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const k = Math.max(3, Math.floor(t.length / 400));
      for (let i = 0; i < t.length; i += k) {
        const chunk = t.slice(i, i + k).sort((a, b) => a - b);
        medians.push(chunk[chunk.length >> 1]);
      }
    }
    if (!medians.length) return null;
    const mlo = Math.min(...medians), mhi = Math.max(...medians);
    const room = Math.max((mhi - mlo) * 0.25, Math.abs(mhi) * 0.01);
    let rlo = Math.max(mlo - room, lo), rhi = Math.min(mhi + room, hi);
    for (const v of extra) {
      if (v == null || !isFinite(v) || (log && v <= 0)) continue;
      const t = log ? Math.log10(v) : v;
      rlo = Math.min(rlo, t); rhi = Math.max(rhi, t);
    }
    if (rhi === rlo) { rlo -= 0.5; rhi += 0.5; }
    const pad = (rhi - rlo) * 0.05;
    return [rlo - pad, rhi + pad * 2.5];
  }

  // The loss axis range for `mode` ("auto", "robust" or "full") and whether it ignores outliers.
  function lossRange(list, x0, x1, log, extra, mode) {
    const full = yExtent(list, x0, x1, log, extra);
    const robust = mode === "full" ? null : robustExtent(list, x0, x1, log, extra);
    if (!robust) return { range: full, robust: false };
    if (mode === "robust" || (full[1] - full[0]) > 1.5 * (robust[1] - robust[0])) {
      return { range: robust, robust: true };
    }
    return { range: full, robust: false };
  }

  // Points of `list` in view beyond the range [y0, y1] (axis space).
  function countOffScale(list, x0, x1, log, y0, y1) {
    let n = 0;
    for (const pts of list) {
      const [i0, i1] = visible(pts, x0, x1);
      for (let i = i0; i < i1; i++) {
        const v = pts[i][1];
        if (v == null || !isFinite(v) || (log && v <= 0)) continue;
        const t = log ? Math.log10(v) : v;
        if (t < y0 || t > y1) n++;
      }
    }
    return n;
  }

  return { lowerBound, visible, yExtent, robustExtent, lossRange, countOffScale };
})();
