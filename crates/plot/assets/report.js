// rnnlab report / live dashboard: a small canvas chart with zoom, hover readout and the
// doctor's findings. Data arrives through window.rnnlab.update(message); the page calls it once
// with the embedded data, and a live page calls it for every server-sent event.
(function () {
  "use strict";
  const COLORS = {
    train: "#1F77B4", val: "#E6550D", lr: "#2CA02C", grad: "#9467BD", ref: "#5A5A5A",
    error: "#D62728", warning: "#E69F00", info: "#787878", event: "#753EAB",
    grid: "rgba(0,0,0,0.08)", axis: "#666", text: "#222",
  };
  const FONT = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const SERIES = ["train_loss", "val_loss", "lr", "grad_norm"];
  const state = {
    name: "", series: { train_loss: [], val_loss: [], lr: [], grad_norm: [] }, events: [],
    references: {}, diagnosis: null, view: null, smooth: 0.9, logY: false, smoothed: null, hover: null,
    // Loss axis range: "auto" ignores outliers when a few points would squash the curve (as
    // `rnnlab plot --ylim auto`); the "ignore outliers" box switches to "robust" or "full".
    yRange: "auto", offScale: 0,
  };
  const $ = (id) => document.getElementById(id);

  // ---------- data ----------
  function appendPoints(target, points) {
    let last = target.length ? target[target.length - 1][0] : -Infinity;
    for (const p of points) {
      if (p[0] > last) { target.push(p); last = p[0]; }
    }
  }

  function update(message) {
    const msg = typeof message === "string" ? JSON.parse(message) : message;
    const replace = msg.mode !== "append";
    if (msg.name) state.name = msg.name;
    for (const key of SERIES) {
      const pts = (msg.series && msg.series[key]) || [];
      if (replace) state.series[key] = pts.slice(); else appendPoints(state.series[key], pts);
    }
    if (replace) state.events = [];
    if (msg.events) state.events = state.events.concat(msg.events);
    if (msg.references) {
      for (const [k, v] of Object.entries(msg.references)) if (v != null || replace) state.references[k] = v;
    }
    if (msg.diagnosis) setDiagnosis(msg.diagnosis);
    state.smoothed = null;
    scheduleDraw();
  }

  function smoothSeries(points, w) {
    const out = new Array(points.length);
    let last = 0, n = 0;
    for (let i = 0; i < points.length; i++) {
      const s = points[i][0], v = points[i][1];
      if (v == null || !isFinite(v)) { out[i] = [s, null]; continue; }
      last = last * w + (1 - w) * v;
      n++;
      const debias = 1 - Math.pow(w, n);
      out[i] = [s, debias > 0 ? last / debias : v];
    }
    return out;
  }

  function smoothed() {
    if (!state.smoothed) state.smoothed = state.smooth > 0 ? smoothSeries(state.series.train_loss, state.smooth) : null;
    return state.smoothed;
  }

  // ---------- geometry ----------
  const { lowerBound, visible, yExtent, lossRange, countOffScale } = rnnlabRange;

  function fullX() {
    let lo = Infinity, hi = -Infinity;
    for (const key of SERIES) {
      const p = state.series[key];
      if (p.length) { lo = Math.min(lo, p[0][0]); hi = Math.max(hi, p[p.length - 1][0]); }
    }
    if (!isFinite(lo)) return [0, 1];
    return hi > lo ? [lo, hi] : [lo - 1, hi + 1];
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
  }

  function fmt(v) {
    if (v == null || !isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e4 && a < 1e9) return a >= 1e6 ? +(v / 1e6).toPrecision(3) + "M" : +(v / 1e3).toPrecision(3) + "k";
    if (a >= 1e-3 && a < 1e4) return String(+v.toPrecision(4));
    return v.toExponential(2).replace(/\.?0+e/, "e");
  }

  function ticks(lo, hi, target, log) {
    if (!log) {
      const step = niceStep((hi - lo) / target), out = [];
      for (let k = Math.ceil(lo / step); k * step <= hi + 1e-12; k++) out.push(+(k * step).toPrecision(12));
      return out;
    }
    const out = [];
    for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) {
      for (const m of hi - lo < 2 ? [1, 2, 5] : [1]) {
        const t = d + Math.log10(m);
        if (t >= lo && t <= hi) out.push(t);
      }
    }
    return out;
  }

  function scale(d0, d1, p0, p1, log) {
    const f = (v) => (log ? (v > 0 ? Math.log10(v) : NaN) : v);
    const k = (p1 - p0) / (d1 - d0);
    return { d0, d1, p0, p1, log, map: (v) => p0 + (f(v) - d0) * k, inv: (p) => d0 + (p - p0) / k, raw: f };
  }

  // ---------- drawing ----------
  function setupCanvas(c, w, h) {
    const r = window.devicePixelRatio || 1;
    c.width = Math.round(w * r); c.height = Math.round(h * r);
    c.style.width = w + "px"; c.style.height = h + "px";
    const ctx = c.getContext("2d");
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.font = FONT;
    return ctx;
  }

  // A polyline over the visible points; beyond ~2 points per pixel, per-column min/max (spikes stay).
  function drawLine(ctx, pts, X, Y, style) {
    const [i0, i1] = visible(pts, X.d0, X.d1);
    ctx.save();
    ctx.strokeStyle = style.color; ctx.lineWidth = style.width || 1.5;
    ctx.globalAlpha = style.alpha == null ? 1 : style.alpha; ctx.setLineDash(style.dash || []);
    ctx.beginPath();
    let pen = false;
    const dense = i1 - i0 > 2 * (X.p1 - X.p0);
    let col = null, first = 0, min = 0, max = 0, last = 0;
    const flush = () => {
      if (col === null) return;
      if (!pen) { ctx.moveTo(col, first); pen = true; } else ctx.lineTo(col, first);
      ctx.lineTo(col, min); ctx.lineTo(col, max); ctx.lineTo(col, last);
      col = null;
    };
    for (let i = i0; i < i1; i++) {
      const v = pts[i][1];
      const y = v == null ? NaN : Y.map(v);
      if (!isFinite(y)) { flush(); pen = false; continue; }
      const x = X.map(pts[i][0]);
      if (!dense) {
        if (!pen) { ctx.moveTo(x, y); pen = true; } else ctx.lineTo(x, y);
        continue;
      }
      const c = Math.round(x);
      if (c !== col) { flush(); col = c; first = min = max = last = y; } else {
        if (y < min) min = y;
        if (y > max) max = y;
        last = y;
      }
    }
    flush();
    ctx.stroke();
    ctx.restore();
    if (style.dots && i1 - i0 < (X.p1 - X.p0) / 4) {
      ctx.save(); ctx.fillStyle = style.color;
      for (let i = i0; i < i1; i++) {
        const v = pts[i][1];
        if (v == null) continue;
        const x = X.map(pts[i][0]), y = Y.map(v);
        if (isFinite(y)) { ctx.beginPath(); ctx.arc(x, y, 3, 0, 2 * Math.PI); ctx.fill(); }
      }
      ctx.restore();
    }
  }

  function drawAxes(ctx, X, Y, box, yLabel) {
    ctx.save();
    ctx.strokeStyle = COLORS.grid; ctx.fillStyle = COLORS.axis; ctx.lineWidth = 1;
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const t of ticks(X.d0, X.d1, Math.max(2, (box.x1 - box.x0) / 110), false)) {
      const x = Math.round(X.map(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, box.y0); ctx.lineTo(x, box.y1); ctx.stroke();
      ctx.fillText(fmt(t), x, box.y1 + 6);
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const t of ticks(Y.d0, Y.d1, Math.max(2, (box.y1 - box.y0) / 60), Y.log)) {
      const y = Math.round(Y.p0 + (t - Y.d0) * (Y.p1 - Y.p0) / (Y.d1 - Y.d0)) + 0.5;
      ctx.beginPath(); ctx.moveTo(box.x0, y); ctx.lineTo(box.x1, y); ctx.stroke();
      ctx.fillText(fmt(Y.log ? Math.pow(10, t) : t), box.x0 - 6, y);
    }
    ctx.strokeStyle = COLORS.axis;
    ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0, box.y1 - box.y0);
    ctx.save(); ctx.translate(14, (box.y0 + box.y1) / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.fillStyle = COLORS.text; ctx.fillText(yLabel, 0, 0); ctx.restore();
    ctx.restore();
  }

  function markOf(f) {
    const first = f.start_step != null ? f.start_step : f.peak_step != null ? f.peak_step : f.end_step;
    if (first == null) return null;
    if (f.kind === "non_finite" || f.kind === "invalid_loss") return { type: "nan", a: first };
    if (f.kind === "spike") return { type: "spike", a: f.peak_step != null ? f.peak_step : first };
    if (f.end_step != null && f.end_step > first) return { type: "range", a: first, b: f.end_step };
    return { type: "at", a: first };
  }

  // Labels placed without overlap: each takes its first free candidate position (a preferred
  // spot, then rows along the top of the plot); one that fits nowhere is left out.
  function labeller(ctx, box) {
    const taken = [];
    return (text, x, color, preferred) => {
      const w = ctx.measureText(text).width + 8, h = 16;
      const spots = (preferred || []).concat([0, 1, 2, 3, 4].map((r) => [x - w / 2, box.y0 + 4 + r * 18]));
      for (const [sx, top] of spots) {
        const x0 = Math.min(Math.max(sx, box.x0 + 2), box.x1 - w - 2);
        if (top < box.y0 || top + h > box.y1) continue;
        if (taken.some((t) => x0 < t[2] && t[0] < x0 + w && top < t[3] && t[1] < top + h)) continue;
        taken.push([x0, top, x0 + w, top + h]);
        ctx.fillStyle = "rgba(255,255,255,0.88)"; ctx.fillRect(x0, top, w, h);
        ctx.fillStyle = color; ctx.textAlign = "left"; ctx.textBaseline = "middle";
        ctx.fillText(text, x0 + 4, top + h / 2);
        return;
      }
    };
  }

  function sevColor(s) { return s === "error" ? COLORS.error : s === "warning" ? COLORS.warning : COLORS.info; }

  function drawFindings(ctx, X, Y, box, withLabels) {
    const d = state.diagnosis;
    const label = labeller(ctx, box);
    const train = state.series.train_loss;
    const inX = (x) => x >= box.x0 && x <= box.x1;
    ctx.save();
    for (const f of (d && d.findings) || []) {
      const m = markOf(f);
      if (!m) continue;
      const xa = X.map(m.a);
      if (m.type === "range") {
        const xb = X.map(m.b);
        const a = Math.max(box.x0, xa), b = Math.min(box.x1, Math.max(xb, xa + 4));
        if (b <= a) continue;
        ctx.globalAlpha = 0.13; ctx.fillStyle = sevColor(f.severity); ctx.fillRect(a, box.y0, b - a, box.y1 - box.y0);
        ctx.globalAlpha = 1;
        if (withLabels) label(`${f.kind} ${fmt(m.a)}–${fmt(m.b)}`, (a + b) / 2, sevColor(f.severity));
        continue;
      }
      if (!inX(xa)) continue;
      if (m.type === "spike" && withLabels) {
        const [i0, i1] = visible(train, m.a - 1, m.a + 1);
        let v = null;
        for (let i = i0; i < i1; i++) {
          const p = train[i];
          if (Math.abs(p[0] - m.a) <= 1 && p[1] != null && (v == null || p[1] > v)) v = p[1];
        }
        if (v == null) continue;
        const y = Math.min(Math.max(Y.map(v), box.y0), box.y1);
        ctx.strokeStyle = COLORS.error; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(xa, y, 7, 0, 2 * Math.PI); ctx.stroke();
        const text = `spike @ ${fmt(m.a)}: ${fmt(v)}`, w = ctx.measureText(text).width + 8;
        label(text, xa, COLORS.error, [[xa - w / 2, y - 28], [xa + 12, y - 8], [xa - w - 12, y - 8], [xa - w / 2, y + 12]]);
      } else {
        ctx.strokeStyle = m.type === "nan" ? COLORS.error : sevColor(f.severity);
        ctx.lineWidth = m.type === "nan" ? 2 : 1;
        ctx.beginPath(); ctx.moveTo(xa, box.y0); ctx.lineTo(xa, box.y1); ctx.stroke();
        if (withLabels) label(`${m.type === "nan" ? "NaN" : f.kind} @ ${fmt(m.a)}`, xa, ctx.strokeStyle);
      }
    }
    ctx.restore();
  }

  // Routine checkpoints and the run's start/end are not guard incidents.
  function isIncident(e) {
    const k = String(e.kind);
    return !k.startsWith("checkpoint") && !["start", "end", "interrupted", "resume", "resumed"].includes(k);
  }

  function drawEvents(ctx, X, box) {
    ctx.save(); ctx.fillStyle = COLORS.event;
    for (const e of state.events) {
      if (!isIncident(e)) continue;
      const x = X.map(e.step);
      if (x < box.x0 || x > box.x1) continue;
      ctx.beginPath(); ctx.moveTo(x, box.y1 - 16); ctx.lineTo(x - 6, box.y1 - 4); ctx.lineTo(x + 6, box.y1 - 4); ctx.fill();
    }
    ctx.restore();
  }

  function drawReferences(ctx, Y, box) {
    ctx.save(); ctx.setLineDash([8, 5]); ctx.strokeStyle = COLORS.ref; ctx.globalAlpha = 0.75;
    ctx.textAlign = "right"; ctx.textBaseline = "bottom"; ctx.fillStyle = COLORS.ref;
    for (const [name, v] of Object.entries(state.references)) {
      if (v == null) continue;
      const y = Y.map(v);
      if (!(y >= box.y0 && y <= box.y1)) continue;
      ctx.beginPath(); ctx.moveTo(box.x0, y); ctx.lineTo(box.x1, y); ctx.stroke();
      ctx.fillText(`${name} ${fmt(v)}`, box.x1 - 6, y - 2);
    }
    ctx.restore();
  }

  function lrAxis(box) {
    let top = 0;
    for (const p of state.series.lr) if (p[1] != null && p[1] > top) top = p[1];
    return top > 0 ? scale(0, top * 1.2, box.y1, box.y0, false) : null;
  }

  const panels = {};

  function panel(id) {
    if (panels[id]) return panels[id];
    const el = $(id);
    const base = document.createElement("canvas"), over = document.createElement("canvas");
    over.className = "overlay";
    el.append(base, over);
    const p = { el, base, over, X: null, box: null, drag: null };
    attachInput(p);
    return (panels[id] = p);
  }

  function drawLoss() {
    const p = panel("loss-chart");
    const w = p.el.clientWidth, h = p.el.clientHeight;
    const ctx = setupCanvas(p.base, w, h);
    setupCanvas(p.over, w, h);
    const box = { x0: 64, y0: 10, x1: w - 74, y1: h - 30 };
    const [x0, x1] = state.view || fullX();
    const X = scale(x0, x1, box.x0, box.x1, false);
    const s = state.series;
    const refs = state.view ? [] : Object.values(state.references);
    const losses = [s.train_loss, s.val_loss];
    const picked = lossRange(losses, x0, x1, state.logY, refs, state.yRange);
    const [y0, y1] = picked.range;
    const box_ = $("ignore-outliers");
    if (box_) box_.checked = picked.robust;
    state.offScale = picked.robust ? countOffScale(losses, x0, x1, state.logY, y0, y1) : 0;
    const Y = scale(y0, y1, box.y1, box.y0, state.logY);
    p.X = X; p.Y = Y; p.box = box;
    drawAxes(ctx, X, Y, box, state.logY ? "loss (log)" : "loss, nats/token");
    ctx.save(); ctx.beginPath(); ctx.rect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0); ctx.clip();
    drawReferences(ctx, Y, box);
    const sm = smoothed();
    drawLine(ctx, s.train_loss, X, Y, { color: COLORS.train, width: sm ? 1 : 2, alpha: sm ? 0.4 : 1 });
    if (sm) drawLine(ctx, sm, X, Y, { color: COLORS.train, width: 2 });
    drawLine(ctx, s.val_loss, X, Y, { color: COLORS.val, width: 2, dots: true });
    const L = lrAxis(box);
    if (L) drawLine(ctx, s.lr, X, L, { color: COLORS.lr, width: 1.5, alpha: 0.85, dash: [6, 4] });
    drawFindings(ctx, X, Y, box, true);
    drawEvents(ctx, X, box);
    ctx.restore();
    if (state.offScale) {
      ctx.save(); ctx.fillStyle = COLORS.axis; ctx.textAlign = "right"; ctx.textBaseline = "top";
      ctx.fillText(state.offScale + " point" + (state.offScale === 1 ? "" : "s") + " off scale (outliers ignored)",
        box.x1 - 4, box.y0 + 4);
      ctx.restore();
    }
    if (L) {
      ctx.save(); ctx.fillStyle = COLORS.axis; ctx.textAlign = "left"; ctx.textBaseline = "middle";
      for (const t of ticks(L.d0, L.d1, 5, false)) ctx.fillText(fmt(t), box.x1 + 6, L.map(t));
      ctx.translate(w - 12, (box.y0 + box.y1) / 2); ctx.rotate(Math.PI / 2); ctx.textAlign = "center";
      ctx.fillText("learning rate", 0, 0); ctx.restore();
    }
    p.L = L;
  }

  function drawGrad() {
    const g = state.series.grad_norm;
    const el = $("grad-chart");
    el.hidden = g.length === 0;
    if (el.hidden) return;
    const p = panel("grad-chart");
    const w = p.el.clientWidth, h = p.el.clientHeight;
    const ctx = setupCanvas(p.base, w, h);
    setupCanvas(p.over, w, h);
    const box = { x0: 64, y0: 8, x1: w - 74, y1: h - 26 };
    const [x0, x1] = state.view || fullX();
    const X = scale(x0, x1, box.x0, box.x1, false);
    const [y0, y1] = yExtent([g], x0, x1, true, []);
    const Y = scale(y0, y1, box.y1, box.y0, true);
    p.X = X; p.Y = Y; p.box = box;
    drawAxes(ctx, X, Y, box, "grad norm (log)");
    ctx.save(); ctx.beginPath(); ctx.rect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0); ctx.clip();
    drawFindings(ctx, X, Y, box, false);
    drawLine(ctx, g, X, Y, { color: COLORS.grad, width: 1.5 });
    ctx.restore();
  }

  function drawLegend() {
    const items = [];
    const s = state.series;
    if (s.train_loss.length) {
      if (state.smooth > 0) items.push(["train loss (raw)", COLORS.train, "faint"], [`train loss (EMA ${state.smooth})`, COLORS.train, "line"]);
      else items.push(["train loss", COLORS.train, "line"]);
    }
    if (s.val_loss.length) items.push(["val loss", COLORS.val, "line"]);
    if (s.lr.length) items.push(["learning rate (right)", COLORS.lr, "dash"]);
    if (s.grad_norm.length) items.push(["grad norm", COLORS.grad, "line"]);
    if (state.events.some(isIncident)) items.push(["guard incident", COLORS.event, "tri"]);
    const el = $("legend");
    el.replaceChildren(...items.map(([text, color, kind]) => {
      const span = document.createElement("span");
      span.className = "item";
      const sw = document.createElement("i");
      sw.className = "swatch " + kind; sw.style.setProperty("--c", color);
      span.append(sw, document.createTextNode(text));
      return span;
    }));
  }

  let pending = false;
  function scheduleDraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  function draw() {
    drawLegend();
    drawLoss();
    drawGrad();
    drawHover();
  }

  // ---------- interaction ----------
  function nearest(pts, step) {
    if (!pts.length) return null;
    const i = lowerBound(pts, step);
    const a = pts[Math.max(0, i - 1)], b = pts[Math.min(pts.length - 1, i)];
    return Math.abs(a[0] - step) <= Math.abs(b[0] - step) ? a : b;
  }

  function drawHover() {
    for (const p of Object.values(panels)) {
      if (!p.X || p.el.hidden) continue;
      const ctx = p.over.getContext("2d");
      const r = window.devicePixelRatio || 1;
      ctx.setTransform(r, 0, 0, r, 0, 0);
      ctx.clearRect(0, 0, p.over.width, p.over.height);
      if (p.drag && Math.abs(p.drag.x1 - p.drag.x0) > 1) {
        ctx.fillStyle = "rgba(31,119,180,0.12)";
        ctx.fillRect(Math.min(p.drag.x0, p.drag.x1), p.box.y0, Math.abs(p.drag.x1 - p.drag.x0), p.box.y1 - p.box.y0);
      }
      if (state.hover == null) continue;
      const x = p.X.map(state.hover);
      if (x < p.box.x0 || x > p.box.x1) continue;
      ctx.strokeStyle = "rgba(0,0,0,0.35)"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x + 0.5, p.box.y0); ctx.lineTo(x + 0.5, p.box.y1); ctx.stroke();
    }
    const tip = $("readout");
    if (state.hover == null) { tip.hidden = true; return; }
    const s = state.series, lines = [];
    const t = nearest(s.train_loss, state.hover);
    if (t) {
      lines.push(["step", fmt(t[0])], ["train", fmt(t[1])]);
      const sm = smoothed();
      if (sm) { const q = nearest(sm, state.hover); lines.push(["smoothed", fmt(q[1])]); }
    }
    const v = nearest(s.val_loss, state.hover);
    if (v) lines.push([`val @ ${fmt(v[0])}`, fmt(v[1])]);
    const l = nearest(s.lr, state.hover);
    if (l) lines.push(["lr", fmt(l[1])]);
    const g = nearest(s.grad_norm, state.hover);
    if (g) lines.push(["grad norm", fmt(g[1])]);
    tip.replaceChildren(...lines.map(([k, val]) => {
      const row = document.createElement("div");
      const kb = document.createElement("b"); kb.textContent = k;
      row.append(kb, document.createTextNode(" " + val));
      return row;
    }));
    tip.hidden = lines.length === 0;
  }

  function clampView(a, b) {
    const [f0, f1] = fullX();
    if (b - a >= f1 - f0) return null;
    if (a < f0) { b += f0 - a; a = f0; }
    if (b > f1) { a -= b - f1; b = f1; }
    return [Math.max(a, f0), Math.min(b, f1)];
  }

  function zoomTo(a, b) {
    const [f0, f1] = fullX();
    const span = f1 - f0;
    const pad = b > a ? (b - a) * 0.3 + span * 0.01 : Math.max(span * 0.03, 5);
    state.view = clampView(a - pad, b + pad);
    scheduleDraw();
  }

  function resetZoom() { state.view = null; scheduleDraw(); }

  function attachInput(p) {
    const pos = (e) => { const r = p.over.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    p.over.addEventListener("mousedown", (e) => {
      if (e.button !== 0 || !p.X) return;
      const [x] = pos(e);
      p.drag = { x0: x, x1: x };
    });
    p.over.addEventListener("mousemove", (e) => {
      if (!p.X) return;
      const [x, y] = pos(e);
      if (p.drag) p.drag.x1 = x;
      state.hover = x >= p.box.x0 && x <= p.box.x1 ? p.X.inv(x) : null;
      const tip = $("readout"), card = $("chart-card").getBoundingClientRect(), r = p.over.getBoundingClientRect();
      tip.style.left = Math.min(r.left - card.left + x + 14, card.width - 190) + "px";
      tip.style.top = r.top - card.top + y + 14 + "px";
      drawHover();
    });
    p.over.addEventListener("mouseleave", () => { state.hover = null; p.drag = null; drawHover(); });
    window.addEventListener("mouseup", () => {
      if (!p.drag) return;
      const { x0, x1 } = p.drag;
      p.drag = null;
      if (Math.abs(x1 - x0) > 4) {
        const a = p.X.inv(Math.min(x0, x1)), b = p.X.inv(Math.max(x0, x1));
        state.view = clampView(a, b);
        scheduleDraw();
      } else drawHover();
    });
    p.over.addEventListener("wheel", (e) => {
      if (!p.X) return;
      e.preventDefault();
      const [x] = pos(e);
      const c = p.X.inv(Math.min(Math.max(x, p.box.x0), p.box.x1));
      const k = e.deltaY > 0 ? 1.25 : 0.8;
      state.view = clampView(c - (c - p.X.d0) * k, c + (p.X.d1 - c) * k);
      scheduleDraw();
    }, { passive: false });
    p.over.addEventListener("dblclick", resetZoom);
  }

  // ---------- findings table, verdict ----------
  function stepText(f) {
    const s = (v) => (v == null ? "—" : fmt(v));
    if (f.start_step != null && f.end_step != null && f.start_step !== f.end_step) return `${s(f.start_step)}–${s(f.end_step)}`;
    return s(f.start_step != null ? f.start_step : f.peak_step != null ? f.peak_step : f.end_step);
  }

  function setDiagnosis(d) {
    state.diagnosis = d;
    const verdict = $("verdict");
    const problems = d.findings.filter((f) => f.severity !== "info").length;
    verdict.className = "verdict " + d.verdict;
    verdict.textContent = d.verdict === "healthy" ? "Healthy — this loss looks normal."
      : `Unhealthy — ${problems} problem${problems === 1 ? "" : "s"} found.`;
    const body = $("findings").tBodies[0];
    if (!d.findings.length) {
      const tr = document.createElement("tr"), td = document.createElement("td");
      tr.className = "none"; td.colSpan = 5; td.textContent = "No findings.";
      tr.append(td); body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...d.findings.map((f) => {
      const tr = document.createElement("tr");
      tr.className = `finding sev-${f.severity}`;
      tr.title = "Click to zoom the chart to these steps";
      for (const [k, v] of [["start", f.start_step], ["end", f.end_step], ["peak", f.peak_step]]) tr.dataset[k] = v == null ? "" : v;
      const cells = [f.severity, f.kind, stepText(f), f.summary, f.advice];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        const inner = document.createElement(i === 0 ? "span" : i === 1 ? "code" : "span");
        if (i === 0) inner.className = "badge";
        inner.textContent = text;
        td.append(inner);
        tr.append(td);
      });
      return tr;
    }));
  }

  function onFindingClick(e) {
    const tr = e.target.closest("tr.finding");
    if (!tr) return;
    const num = (k) => (tr.dataset[k] === "" || tr.dataset[k] == null ? null : +tr.dataset[k]);
    const a = num("start") != null ? num("start") : num("peak");
    const b = num("end") != null ? num("end") : a;
    if (a == null) return;
    for (const row of tr.parentNode.children) row.classList.toggle("selected", row === tr);
    zoomTo(Math.min(a, b), Math.max(a, b));
    $("chart-card").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  // ---------- start ----------
  function start() {
    const readout = document.createElement("div");
    readout.id = "readout"; readout.className = "readout"; readout.hidden = true;
    $("chart-card").append(readout);
    $("findings").addEventListener("click", onFindingClick);
    $("reset-zoom").addEventListener("click", resetZoom);
    $("smooth").addEventListener("input", (e) => {
      state.smooth = +e.target.value; state.smoothed = null;
      $("smooth-value").textContent = e.target.value;
      scheduleDraw();
    });
    $("log-y").addEventListener("change", (e) => { state.logY = e.target.checked; scheduleDraw(); });
    $("ignore-outliers").addEventListener("change", (e) => {
      state.yRange = e.target.checked ? "robust" : "full"; scheduleDraw();
    });
    window.addEventListener("resize", scheduleDraw);
    update(JSON.parse($("rnnlab-data").textContent));
    const url = document.body.dataset.live;
    if (url && window.EventSource) {
      const status = $("live-status");
      status.hidden = false;
      const source = new EventSource(url);
      source.onopen = () => { status.textContent = "live"; status.className = "live-status on"; };
      source.onerror = () => { status.textContent = "reconnecting…"; status.className = "live-status off"; };
      source.onmessage = (e) => update(e.data);
    }
  }

  window.rnnlab = { update, zoomTo, resetZoom, state, redraw: draw, lossRange };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
