"use strict";
(function () {
  const SIDE = 28;        // MNIST images are 28x28
  const BOX = 20;         // the digit is scaled into 20x20, as in MNIST
  const INK = 26;         // grey level from which a pixel counts as digit
  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  let drawing = false, last = null, dirty = false;

  // The server says at /welcome whether it checks tokens: "none", "token"
  // (every route but this page needs one) or "open-predict" (anyone may
  // predict; stored rows need a token). The token lives in this tab's
  // session storage only.
  const TOKEN_KEY = "mnist-token";
  let authMode = "none";
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let recentURLs = [];   // blob: URLs of the strip's images, fetched with the token
  let answerURLs = [];   // blob: URLs of the answer's image and saliency map

  // Code samples name this server rather than a placeholder.
  for (const el of document.querySelectorAll(".origin")) el.textContent = location.origin;

  function clearPad() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
    dirty = false;
  }

  function point(e) {
    const r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
  }

  function line(a, b) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 20;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    dirty = true;
  }

  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    last = point(e);
    line(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of (events.length ? events : [e])) {
      const p = point(ev);
      line(last, p);
      last = p;
    }
  });
  for (const type of ["pointerup", "pointercancel"]) {
    pad.addEventListener(type, () => { drawing = false; });
  }

  // axisTaps and resize mirror the server's imaging package: shrinking
  // averages each output pixel's footprint, enlarging interpolates linearly.
  function axisTaps(n, m) {
    const f = n / m, taps = [];
    for (let i = 0; i < m; i++) {
      const t = [];
      if (f <= 1) {
        const s = Math.min(Math.max((i + 0.5) * f - 0.5, 0), n - 1);
        const j = Math.floor(s), frac = s - j;
        t.push([j, 1 - frac]);
        if (j + 1 < n && frac > 0) t.push([j + 1, frac]);
      } else {
        const lo = i * f, hi = (i + 1) * f;
        for (let j = Math.floor(lo); j < n && j < hi; j++) {
          const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
          if (overlap > 0) t.push([j, overlap / f]);
        }
      }
      taps.push(t);
    }
    return taps;
  }

  function resize(gray, stride, box, w, h) {
    const xs = axisTaps(box.w, w), ys = axisTaps(box.h, h);
    const rows = new Float32Array(box.h * w);
    for (let y = 0; y < box.h; y++) {
      const base = (box.y + y) * stride + box.x;
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (const [j, wt] of xs[x]) s += wt * gray[base + j];
        rows[y * w + x] = s;
      }
    }
    const out = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (const [j, wt] of ys[y]) s += wt * rows[j * w + x];
        out[y * w + x] = Math.min(Math.max(Math.round(s), 0), 255);
      }
    }
    return out;
  }

  // toMNIST turns the pad into 28 rows of 28 ints: stretched so the stroke
  // is 255, cropped to the digit, scaled so its longer side is 20 px and
  // moved by whole pixels so its centre of mass is at (14, 14). Null when
  // nothing is drawn.
  function toMNIST() {
    const { width: W, height: H } = pad;
    const rgba = ctx.getImageData(0, 0, W, H).data;
    const gray = new Uint8Array(W * H);
    let hi = 0;
    for (let i = 0; i < gray.length; i++) {
      gray[i] = rgba[4 * i];
      hi = Math.max(hi, gray[i]);
    }
    if (hi < 32) return null;
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = Math.round(gray[y * W + x] * 255 / hi);
        gray[y * W + x] = v;
        if (v >= INK) {
          x0 = Math.min(x0, x); x1 = Math.max(x1, x);
          y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        }
      }
    }
    if (x1 < 0) return null;
    const box = { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
    const long = Math.max(box.w, box.h);
    const w = Math.max(1, Math.round(box.w * BOX / long));
    const h = Math.max(1, Math.round(box.h * BOX / long));
    const digit = resize(gray, W, box, w, h);
    let sum = 0, sx = 0, sy = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = digit[y * w + x];
        sum += v; sx += v * x; sy += v * y;
      }
    }
    const ox = Math.min(Math.max(Math.round(SIDE / 2 - sx / sum), 0), SIDE - w);
    const oy = Math.min(Math.max(Math.round(SIDE / 2 - sy / sum), 0), SIDE - h);
    const rows = [];
    for (let y = 0; y < SIDE; y++) {
      const row = new Array(SIDE).fill(0);
      if (y >= oy && y < oy + h) {
        for (let x = 0; x < w; x++) row[ox + x] = digit[(y - oy) * w + x];
      }
      rows.push(row);
    }
    return rows;
  }

  // api fetches path and returns the parsed JSON, throwing an Error with
  // the server's own {"error": ...} message when the status is not 2xx.
  async function api(path, options) {
    let res;
    try {
      res = await fetch(path, withToken(options));
    } catch (err) {
      throw new Error("Could not reach the server: " + err.message);
    }
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
    if (res.status === 401 && authMode !== "none") askForToken((body && body.error) || "");
    if (!res.ok) {
      throw new Error((body && body.error) || ("The server answered " + res.status + " " + res.statusText + "."));
    }
    return body;
  }

  // withToken adds the Authorization header when the tab has a token.
  function withToken(options) {
    const o = Object.assign({}, options || {});
    if (token) o.headers = Object.assign({}, o.headers || {}, { Authorization: "Bearer " + token });
    return o;
  }

  // canRead says whether this tab may read stored rows and images.
  const canRead = () => authMode === "none" || token !== "";

  // imageURL is an address an <img> can show for a picture of a stored
  // prediction ("image.png", its input, or "saliency.png"): the route
  // itself without keys; with keys, the picture fetched with the token and
  // kept in memory, because an <img> cannot send an Authorization header.
  async function imageURL(id, name) {
    const path = "/predictions/" + encodeURIComponent(id) + "/" + (name || "image.png");
    if (authMode === "none") return path;
    const res = await fetch(path, withToken());
    if (!res.ok) throw new Error(path + ": " + res.status);
    return URL.createObjectURL(await res.blob());
  }

  function askForToken(message) {
    const form = $("auth");
    form.hidden = false;
    $("auth-hint").textContent = message || (authMode === "token"
      ? "This server needs an API token for predictions. Ask its operator for one."
      : "Anyone may ask for predictions here; an API token also shows your past ones.");
  }

  const pct = (p) => (100 * p).toFixed(1) + "%";

  function drawBars(probs, top) {
    const bars = $("bars");
    bars.replaceChildren();
    for (let d = 0; d < 10; d++) {
      const p = probs ? probs[d] : 0;
      const li = document.createElement("li");
      if (probs && d === top) li.className = "top";
      li.setAttribute("aria-label", d + ": " + pct(p));
      const label = document.createElement("span");
      label.textContent = d;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.display = "block";
      fill.style.width = (100 * p).toFixed(2) + "%";
      track.append(fill);
      const value = document.createElement("span");
      value.className = "pct";
      value.textContent = probs ? pct(p) : "";
      li.append(label, track, value);
      bars.append(li);
    }
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  // The ten "Wrong? It is a ..." buttons label the prediction just shown;
  // pressing the pressed one again takes the label back.
  let answered = null; // {id, prediction, label} of the prediction shown
  const digits = $("label-digits");
  for (let d = 0; d < 10; d++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = d;
    b.dataset.label = d;
    b.setAttribute("aria-pressed", "false");
    b.setAttribute("aria-label", "It is a " + d);
    b.addEventListener("click", () => label(d));
    digits.append(b);
  }

  function showLabel() {
    for (const b of digits.children) {
      b.setAttribute("aria-pressed", String(answered && answered.label === Number(b.dataset.label)));
    }
  }

  async function label(d) {
    if (!answered) return;
    const a = answered, status = $("feedback-status");
    const undo = a.label === d;
    try {
      const path = "/predictions/" + encodeURIComponent(a.id) + "/label";
      const rec = undo
        ? await api(path, { method: "DELETE" })
        : await api(path, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ label: d }) });
      a.label = rec.label;
      status.textContent = rec.label === null ? "Label removed."
        : rec.label === a.prediction ? "Thanks: marked right (" + rec.label + ")."
        : "Thanks: recorded as a " + rec.label + ".";
      showLabel();
      loadRecent();
      loadModels();
    } catch (err) {
      status.textContent = "Could not save the label: " + err.message;
    }
  }

  function showAnswer(a) {
    showError("");
    answered = { id: a.id, prediction: a.prediction, label: null };
    showLabel();
    $("feedback-status").textContent = "Your answer trains the next model.";
    $("feedback").hidden = !canRead(); // labelling needs the right to the row
    $("digit").textContent = a.prediction;
    $("confidence").textContent = "Confidence " + pct(a.confidence) + " \u00b7 prediction #" + a.id;
    drawBars(a.probabilities, a.prediction);
    showSeen(a.id);
  }

  // showSeen shows, beside the drawing, the 28x28 image the model got (the
  // stored one, after the server's conversion of an upload) and the same
  // with the saliency map over it. Anonymous visitors may not read stored
  // rows back, so they see neither.
  function showSeen(id) {
    const box = $("seen-box");
    for (const url of answerURLs) URL.revokeObjectURL(url);
    answerURLs = [];
    box.hidden = true;
    if (id === null || !canRead()) return;
    const show = (img, name) => imageURL(id, name).then((url) => {
      if (url.startsWith("blob:")) answerURLs.push(url);
      img.src = url;
    });
    Promise.all([show($("seen"), "image.png"), show($("why"), "saliency.png")])
      .then(() => { box.hidden = false; }, () => {});
  }

  // send posts one prediction request, shows the answer or the error, and
  // refreshes the list of recent predictions.
  async function send(options) {
    const buttons = [$("predict"), $("clear")];
    buttons.forEach((b) => { b.disabled = true; });
    $("confidence").textContent = "Asking the model\u2026";
    try {
      showAnswer(await api("/predict", Object.assign({ method: "POST" }, options)));
      loadRecent();
    } catch (err) {
      $("digit").textContent = "?";
      $("confidence").textContent = "No prediction.";
      answered = null;
      $("feedback").hidden = true;
      drawBars(null);
      showSeen(null);
      showError(err.message);
      loadModel();
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  $("predict").addEventListener("click", () => {
    const rows = dirty ? toMNIST() : null;
    if (!rows) {
      showError("Draw a digit on the black square first.");
      return;
    }
    send({ headers: { "Content-Type": "application/json" }, body: JSON.stringify({ image: rows }) });
  });

  $("clear").addEventListener("click", () => {
    clearPad();
    showError("");
  });

  $("upload").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("image", file);
    send({ body: form });
    e.target.value = "";
  });

  async function loadRecent() {
    const list = $("recent");
    if (!canRead()) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "Your past predictions show here once you enter an API token.";
      list.replaceChildren(li);
      return;
    }
    try {
      const page = await api("/predictions?limit=10");
      const items = (page && page.predictions) || [];
      for (const url of recentURLs) URL.revokeObjectURL(url);
      recentURLs = [];
      list.replaceChildren();
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "empty";
        li.textContent = "No predictions yet. Yours will appear here.";
        list.append(li);
      }
      for (const p of items) {
        const li = document.createElement("li");
        // A link would be followed without the token, so only without keys.
        const a = document.createElement(authMode === "none" ? "a" : "span");
        if (authMode === "none") a.href = "/predictions/" + encodeURIComponent(p.id);
        const img = document.createElement("img");
        imageURL(p.id, "image.png").then((url) => {
          if (url.startsWith("blob:")) recentURLs.push(url);
          img.src = url;
        }, () => {});
        img.alt = "Input of prediction " + p.id;
        img.width = 56;
        img.height = 56;
        img.loading = "lazy";
        const info = document.createElement("span");
        info.className = "info";
        const d = document.createElement("span");
        d.className = "d";
        d.textContent = p.prediction;
        const c = document.createElement("span");
        c.className = "c";
        c.textContent = pct(p.confidence);
        const meta = document.createElement("span");
        meta.className = "meta";
        const when = new Date(p.created_at);
        meta.textContent = "#" + p.id + (isNaN(when) ? "" :
          " \u00b7 " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }));
        info.append(d, c, meta);
        if (p.label !== null && p.label !== undefined) {
          const wrong = p.label !== p.prediction;
          li.className = wrong ? "wrong" : "right";
          const mark = document.createElement("span");
          mark.className = "mark";
          mark.textContent = wrong ? "is a " + p.label : "\u2713";
          mark.title = wrong ? "Labelled " + p.label + ": the prediction was wrong" : "Labelled right";
          d.after(mark);
        }
        a.append(img, info);
        li.append(a);
        list.append(li);
      }
    } catch (err) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "Could not load recent predictions: " + err.message;
      list.replaceChildren(li);
    }
  }

  async function loadModel() {
    const el = $("model");
    try {
      const m = await api("/model");
      let text = "Model " + m.version;
      if (typeof m.test_accuracy === "number") text += " \u00b7 test accuracy " + (100 * m.test_accuracy).toFixed(2) + "%";
      if (m.train_images) text += " \u00b7 trained on " + m.train_images.toLocaleString() + " images";
      if (m.epochs) text += " for " + m.epochs + " epochs";
      if (m.checkpoint) {
        // A first boot's early checkpoint: say so, and look again until
        // the finished model replaces it.
        text += " \u00b7 an early checkpoint (epoch " + m.checkpoint.epoch + " of " + m.checkpoint.epochs;
        if (typeof m.val_accuracy === "number") text += ", validation accuracy " + (100 * m.val_accuracy).toFixed(2) + "%";
        text += "): training goes on, a better model follows";
        setTimeout(loadModel, 10000);
      }
      el.textContent = text;
    } catch (err) {
      el.textContent = "Model: " + err.message;
    }
  }

  // loadModels fills the models card; it stays hidden when the server has
  // no model folder to list or this tab may not read it.
  async function loadModels() {
    const card = $("models-card");
    if (!canRead()) { // anonymous: /models is for admin keys
      card.hidden = true;
      return;
    }
    let list;
    try {
      list = await api("/models");
    } catch (_) {
      card.hidden = true;
      return;
    }
    const body = $("models").tBodies[0];
    body.replaceChildren();
    for (const m of (list && list.models) || []) {
      const tr = document.createElement("tr");
      const cell = (text) => {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
        return td;
      };
      const version = cell("");
      const code = document.createElement("code");
      code.textContent = m.version;
      version.append(code);
      const state = cell("");
      for (const [on, name] of [[m.served, "served"], [m.pinned, "pinned"]]) {
        if (!on) continue;
        const b = document.createElement("span");
        b.className = "badge " + name;
        b.textContent = name;
        state.append(b);
      }
      cell(typeof m.test_accuracy === "number" ? pct(m.test_accuracy) : "");
      const live = m.live || {};
      cell(live.accuracy === null || live.accuracy === undefined
        ? "no labels yet"
        : pct(live.accuracy) + " (" + live.correct + " of " + live.labelled + ")");
      const open = document.createElement("button");
      open.type = "button";
      open.className = "small";
      open.textContent = "Pictures";
      open.dataset.version = m.version;
      open.setAttribute("aria-label", "Pictures of model " + m.version);
      open.addEventListener("click", () => showModel(m));
      cell("").append(open);
      body.append(tr);
      if (shownModel === m.version) showModel(m); // keep the open one current
    }
    card.hidden = false;
  }

  // showModel opens the pictures of model m (an entry of GET /models):
  // its learning curves, its confusion matrix and accuracy per digit on
  // the test set, and its live accuracy over time. Models trained before
  // the curves and the matrix were recorded say so instead.
  let shownModel = null;
  function showModel(m) {
    shownModel = m.version;
    const box = $("model-detail");
    box.hidden = false;
    $("detail-h").textContent = "Model " + m.version;
    const facts = [];
    if (typeof m.test_accuracy === "number") facts.push("test accuracy " + pct(m.test_accuracy));
    if (m.train_images) facts.push("trained on " + m.train_images.toLocaleString() + " images");
    if (m.epochs) facts.push(m.epochs + " epochs");
    if (m.train_seconds) facts.push(Math.round(m.train_seconds) + " s of training");
    $("detail-summary").textContent = facts.join(" \u00b7 ");
    drawCurves(m.history || []);
    drawConfusion(m.test_confusion);
    drawLive(m);
  }

  // note replaces a chart's holder with a sentence.
  function note(id, words) {
    const p = document.createElement("p");
    p.className = "hint none";
    p.textContent = words;
    $(id).replaceChildren(p);
  }

  function drawCurves(history) {
    if (!history.length) {
      const words = "Not recorded: this model was trained before the curves were kept.";
      note("curve-loss", words);
      note("curve-acc", words);
      return;
    }
    const epochs = history.map((h) => h.epoch);
    const x = { min: Math.min(1, ...epochs), max: Math.max(...epochs), label: "epoch", format: String };
    x.ticks = Charts.ticks(x.min, x.max, Math.min(history.length, 8)).filter(Number.isInteger);
    const losses = history.map((h) => h.loss);
    Charts.line($("curve-loss"), {
      label: "Training loss by epoch",
      x: x,
      y: { min: 0, max: Math.max(...losses) * 1.1 || 1, format: (v) => v.toFixed(2) },
      series: [{ name: "loss", cls: "s-loss", points: history.map((h) => [h.epoch, h.loss]) }],
      titleOf: (_, p) => "epoch " + p[0] + ": loss " + p[1].toFixed(4),
    });
    const accs = history.flatMap((h) => [h.train_accuracy, h.val_accuracy]);
    const lo = Math.max(0, Math.floor((Math.min(...accs) - 0.005) * 50) / 50);
    Charts.line($("curve-acc"), {
      label: "Training and validation accuracy by epoch",
      x: x,
      y: { min: lo, max: 1, format: (v) => Charts.pct(v, lo > 0.9 ? 1 : 0) },
      series: [
        { name: "training", cls: "s-train", points: history.map((h) => [h.epoch, h.train_accuracy]) },
        { name: "validation", cls: "s-val", points: history.map((h) => [h.epoch, h.val_accuracy]) },
      ],
      titleOf: (s, p) => "epoch " + p[0] + ": " + s.name + " accuracy " + Charts.pct(p[1], 2),
    });
  }

  function drawConfusion(m) {
    if (!m) {
      const words = "Not recorded: this model was trained before the confusion matrix was kept.";
      note("confusion", words);
      note("per-digit", words);
      return;
    }
    Charts.heatmap($("confusion"), m, "Confusion matrix: rows are the true digits, columns the digits read");
    const acc = m.map((row, i) => row[i] / (row.reduce((a, b) => a + b, 0) || 1));
    Charts.bars($("per-digit"), acc, acc.map((_, i) => String(i)), "Test accuracy of each digit");
  }

  async function drawLive(m) {
    const holder = $("live-chart");
    let series;
    try {
      series = await api("/models/" + encodeURIComponent(m.version) + "/live");
    } catch (err) {
      note("live-chart", "Could not load live accuracy: " + err.message);
      return;
    }
    if (shownModel !== m.version) return; // another model was opened meanwhile
    const pts = series.points || [];
    if (!pts.length) {
      note("live-chart", "No labelled predictions of this model yet: label some above to see how it does on real use.");
      return;
    }
    const bucket = 1000 * series.bucket_seconds;
    const ts = pts.map((p) => Date.parse(p.start) + bucket / 2);
    const x = { min: Math.min(...ts) - bucket, max: Math.max(...ts) + bucket };
    const day = { month: "short", day: "numeric" }, clock = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    const fmt = bucket >= 86400000 ? (v) => new Date(v).toLocaleDateString([], day)
      : x.max - x.min > 86400000 ? (v) => new Date(v).toLocaleString([], Object.assign({}, day, clock))
      : (v) => new Date(v).toLocaleTimeString([], clock);
    x.format = fmt;
    x.ticks = [x.min + bucket, x.max - bucket].filter((v, i, a) => a.indexOf(v) === i);
    const values = pts.map((p) => p.accuracy).concat(typeof m.test_accuracy === "number" ? [m.test_accuracy] : []);
    const lo = Math.max(0, Math.floor((Math.min(...values) - 0.02) * 10) / 10);
    const most = Math.max(...pts.map((p) => p.labelled));
    Charts.line(holder, {
      label: "Live accuracy over time beside test accuracy",
      x: x,
      y: { min: lo, max: 1, format: (v) => Charts.pct(v, 0) },
      series: [{ name: "live (" + series.labelled + " labelled)", cls: "s-live", points: pts.map((p, i) => [ts[i], p.accuracy, p]) }],
      refs: typeof m.test_accuracy === "number" ? [{ y: m.test_accuracy, label: "test " + pct(m.test_accuracy), cls: "s-test" }] : [],
      radius: (p) => 2.5 + 4 * Math.sqrt(p[2].labelled / most),
      titleOf: (_, p) => fmt(p[0]) + ": " + pct(p[1]) + " (" + p[2].correct + " of " + p[2].labelled + ")",
    });
  }

  $("auth").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    $("auth").hidden = authMode === "token" ? !!token : false;
    showError("");
    loadRecent();
    loadModel();
    loadModels();
  });

  $("forget").addEventListener("click", () => {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken("");
    loadRecent();
  });

  async function start() {
    try {
      const w = await api("/welcome");
      authMode = (w && w.auth) || "none";
    } catch (_) { /* an old server: no keys */ }
    if (authMode === "open-predict" || (authMode === "token" && !token)) askForToken("");
    loadRecent();
    if (authMode !== "token" || token) {
      loadModel();
      loadModels();
    }
  }

  clearPad();
  drawBars(null);
  start();
})();
