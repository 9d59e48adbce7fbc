"use strict";
// Charts draws the page's pictures as SVG with no library: line charts
// (learning curves, live accuracy), a heat map (the confusion matrix) and
// bars (accuracy per digit). Colours come from style.css classes, except
// the heat map's, which are computed per cell. Every mark carries its
// numbers in data- attributes and a <title>, for screen readers, tooltips
// and the browser test.
window.Charts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 320, H = 200;
  const M = { left: 46, right: 12, top: 22, bottom: 32 };

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.append(e);
    return e;
  }

  function text(parent, x, y, s, attrs) {
    const t = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }

  function title(parent, s) {
    el("title", {}, parent).textContent = s;
  }

  // svg replaces the contents of holder with an empty chart of the given
  // size and label.
  function svg(holder, label, w, h) {
    const s = el("svg", { viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": label, class: "chart" });
    holder.replaceChildren(s);
    return s;
  }

  // ticks returns about n round values from lo to hi.
  function ticks(lo, hi, n) {
    const span = hi - lo || 1;
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(10));
    return out;
  }

  // line draws series of [x, y] points with axes. opts: label, series
  // [{name, cls, points}], x {min, max, ticks, format}, y {min, max,
  // format}, refs [{y, label, cls}], radius(point) for marks sized by
  // weight, titleOf(series, point).
  function line(holder, opts) {
    const s = svg(holder, opts.label, W, H);
    const x0 = M.left, x1 = W - M.right, y0 = H - M.bottom, y1 = M.top;
    const xs = opts.x, ys = opts.y;
    const sx = (v) => x0 + (xs.max === xs.min ? 0.5 : (v - xs.min) / (xs.max - xs.min)) * (x1 - x0);
    const sy = (v) => y0 - (ys.max === ys.min ? 0.5 : (v - ys.min) / (ys.max - ys.min)) * (y0 - y1);
    const axes = el("g", { class: "axis" }, s);
    for (const v of ticks(ys.min, ys.max, 4)) {
      el("line", { x1: x0, x2: x1, y1: sy(v), y2: sy(v), class: "grid" }, axes);
      text(axes, x0 - 4, sy(v) + 3, ys.format(v), { "text-anchor": "end" });
    }
    for (const v of xs.ticks) {
      text(axes, sx(v), y0 + 13, xs.format(v), { "text-anchor": "middle" });
    }
    el("line", { x1: x0, x2: x1, y1: y0, y2: y0, class: "base" }, axes);
    if (xs.label) text(axes, (x0 + x1) / 2, H - 4, xs.label, { "text-anchor": "middle", class: "axis-label" });
    for (const r of opts.refs || []) {
      const g = el("g", { class: "ref " + (r.cls || ""), "data-y": r.y }, s);
      el("line", { x1: x0, x2: x1, y1: sy(r.y), y2: sy(r.y) }, g);
      text(g, x1, sy(r.y) - 4, r.label, { "text-anchor": "end" });
      title(g, r.label);
    }
    let lx = x0;
    for (const ser of opts.series) {
      const g = el("g", { class: "series " + ser.cls, "data-name": ser.name }, s);
      if (ser.points.length > 1) {
        el("polyline", { points: ser.points.map((p) => sx(p[0]) + "," + sy(p[1])).join(" ") }, g);
      }
      for (const p of ser.points) {
        const c = el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: opts.radius ? opts.radius(p) : 3, "data-x": p[0], "data-y": p[1] }, g);
        title(c, opts.titleOf(ser, p));
      }
      // The legend: a dot and the name, left to right above the plot.
      const key = el("g", { class: "legend " + ser.cls }, s);
      el("circle", { cx: lx + 4, cy: 9, r: 4 }, key);
      text(key, lx + 11, 13, ser.name);
      lx += 20 + 6.2 * ser.name.length;
    }
    return s;
  }

  // heatmap draws a confusion matrix: rows are the true digits, columns
  // the predicted ones. The diagonal is shaded by its share of the row;
  // the errors, in another hue, by their count against the largest error,
  // on a log scale so that single mistakes still show.
  function heatmap(holder, m, label) {
    const n = m.length, cell = 28, left = 30, top = 30;
    const side = left + n * cell + 4;
    const s = svg(holder, label, side, top + n * cell + 4);
    let maxErr = 0;
    m.forEach((row, i) => row.forEach((c, j) => { if (i !== j) maxErr = Math.max(maxErr, c); }));
    const axes = el("g", { class: "axis" }, s);
    text(axes, left + n * cell / 2, 10, "predicted digit", { "text-anchor": "middle", class: "axis-label" });
    const side2 = text(axes, 10, top + n * cell / 2, "true digit", { "text-anchor": "middle", class: "axis-label" });
    side2.setAttribute("transform", "rotate(-90 10 " + (top + n * cell / 2) + ")");
    for (let k = 0; k < n; k++) {
      text(axes, left + k * cell + cell / 2, top - 5, String(k), { "text-anchor": "middle" });
      text(axes, left - 5, top + k * cell + cell / 2 + 3, String(k), { "text-anchor": "end" });
    }
    const g = el("g", { class: "cells" }, s);
    m.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((c, j) => {
        let t, rgb;
        if (i === j) {
          t = c / total;
          rgb = mix([234, 241, 251], [31, 86, 184], t);
        } else {
          t = c && maxErr ? Math.log(1 + c) / Math.log(1 + maxErr) : 0;
          rgb = c ? mix([253, 236, 228], [190, 40, 20], t) : [247, 248, 250];
        }
        const r = el("rect", {
          x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
          fill: "rgb(" + rgb.join(",") + ")", "data-row": i, "data-col": j, "data-count": c,
        }, g);
        if (i === j) r.setAttribute("data-diag", "true");
        title(r, "true " + i + ", read as " + j + ": " + c + (i === j ? " (" + (100 * c / total).toFixed(1) + "% of the " + i + "s)" : ""));
        if (c) {
          const dark = (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000 < 140;
          text(g, left + j * cell + (cell - 1) / 2, top + i * cell + cell / 2 + 3, String(c),
            { "text-anchor": "middle", class: "count" + (dark ? " on-dark" : "") });
        }
      });
    });
    return s;
  }

  function mix(a, b, t) {
    return a.map((v, k) => Math.round(v + (b[k] - v) * Math.min(Math.max(t, 0), 1)));
  }

  // bars draws one bar per value (0..1) over labels, from a floor that is
  // a round 5% below the smallest value so that differences show; the
  // axis says where it starts.
  function bars(holder, values, labels, label) {
    const s = svg(holder, label, W, H);
    const x0 = M.left, x1 = W - M.right, y0 = H - M.bottom, y1 = M.top;
    const lo = Math.max(0, Math.floor((Math.min(...values) - 0.01) * 20) / 20);
    const sy = (v) => y0 - (v - lo) / (1 - lo) * (y0 - y1);
    const axes = el("g", { class: "axis" }, s);
    for (const v of ticks(lo, 1, 4)) {
      el("line", { x1: x0, x2: x1, y1: sy(v), y2: sy(v), class: "grid" }, axes);
      text(axes, x0 - 4, sy(v) + 3, pct(v, 0), { "text-anchor": "end" });
    }
    const bw = (x1 - x0) / values.length;
    const g = el("g", { class: "bars-g" }, s);
    values.forEach((v, i) => {
      const r = el("rect", {
        x: x0 + i * bw + 3, y: sy(v), width: bw - 6, height: Math.max(0, y0 - sy(v)),
        "data-label": labels[i], "data-value": v,
      }, g);
      title(r, labels[i] + ": " + pct(v, 2));
      text(axes, x0 + i * bw + bw / 2, y0 + 13, labels[i], { "text-anchor": "middle" });
      text(g, x0 + i * bw + bw / 2, sy(v) - 3, (100 * v).toFixed(1), { "text-anchor": "middle", class: "value" });
    });
    el("line", { x1: x0, x2: x1, y1: y0, y2: y0, class: "base" }, axes);
    return s;
  }

  function pct(v, digits) {
    return (100 * v).toFixed(digits) + "%";
  }

  return { line: line, heatmap: heatmap, bars: bars, ticks: ticks, pct: pct };
})();
