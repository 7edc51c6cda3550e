// The studio chapter's in-browser demo: G(x | s, c) with onnxruntime-web (WASM backend).
//
// The style code s given to the network is a convex combination of the named looks' codes
// (exported beside the model by influencer_gan.export): exactly what the Python studio feeds
// the conditional batch norm (§4.4). c = (vivid, warmth, strength) is the personal condition.
// Beside G's answer the page shows the exact ground truth of the same request, as the Python
// studio does (Studio.render_mix): the named looks mixed in slider space and rendered without
// grain by the slider editor that made the looks (model/editor.onnx), then personalised by c as
// photo apps define it for any look (looks.personal_edit): vivid and warmth adjust the look
// (the editor again, with vivid * V + warmth * W), and strength blends the photo (0) with the
// adjusted look (1). The page shows the mean ΔE2000 between the two and the look's sliders.
// Every asset comes from this folder (ort/ and model/, written by scripts/build_web_demo.py);
// nothing is uploaded: a reader's photo is read and processed in the page.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const root = $("studio");
  // "full size" is capped: a 12-megapixel phone photo (4032×3024) took about 15 s in headless
  // Chromium on a 2-core machine; larger photos are scaled down to this many pixels (and the
  // page says so).
  const MAX_FULL_PIXELS = 12.5e6;
  const stats = { runs: 0, times: [], lastMs: null, truthMs: null, size: null, backend: "wasm",
                  error: null, deltaE: null, scaledFrom: null, downloads: [] };
  window.studioStats = stats;                  // read by the book's browser test

  let session = null, editor = null, sliderHead = null, looks = null, sliders = null;
  let busy = false, pending = false, currentImage = null, currentName = "photo";

  function setStatus(text, state) {
    $("status").textContent = text;
    if (state) root.dataset.state = state;
  }

  // A visible error: what went wrong, and (optionally) what to do about it, with a command.
  function fail(message, help, command) {
    stats.error = message;
    setStatus("the demo stopped: see the message above", "error");
    const box = $("error");
    box.replaceChildren();
    const p = document.createElement("p");
    p.textContent = message;
    box.append(p);
    if (help) {
      const q = document.createElement("p");
      q.textContent = help;
      box.append(q);
    }
    if (command) {
      const pre = document.createElement("pre");
      pre.textContent = command;
      box.append(pre);
    }
    box.hidden = false;
  }

  const BUILD_HELP = "The demo's model and photos are built with the book: run `make book` (or " +
    "`make webdemo`) in the repository, then serve the built book over HTTP:";
  const SERVE = "python3 -m http.server -d _build/html\n" +
    "# then open http://localhost:8000/_static/studio/index.html";

  // fetch() that names the file it could not get (a missing file is an HTTP 404, not an error).
  async function getFile(path) {
    let r;
    try {
      r = await fetch(path);
    } catch (e) {
      throw new Error(`could not fetch ${path} (${e.message || e})`);
    }
    if (!r.ok) throw new Error(`${path} is missing (HTTP ${r.status}${r.statusText ? " " + r.statusText : ""})`);
    return r;
  }
  async function getJSON(path) {
    const r = await getFile(path);
    try {
      return await r.json();
    } catch (e) {
      throw new Error(`${path} is not valid JSON (${e.message || e})`);
    }
  }
  async function getSession(path) {
    const bytes = new Uint8Array(await (await getFile(path)).arrayBuffer());
    return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  }

  function median(a) {
    const s = [...a].sort((x, y) => x - y);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
  }

  // The normalised weights of the three look pickers: [[name, w], ...] with Σ w = 1, or null.
  function mixWeights() {
    const items = [];
    let total = 0;
    for (let i = 0; i < 3; i++) {
      const w = parseFloat($(`weight-${i}`).value);
      if (w > 0) { items.push([$(`look-${i}`).value, w]); total += w; }
    }
    return total > 0 ? items.map(([n, w]) => [n, w / total]) : null;
  }

  // Σ w_i v_i over the mix, for style codes and slider vectors alike.
  function combine(mix, vectorOf, dim) {
    const out = new Float32Array(dim);
    for (const [name, w] of mix) {
      const v = vectorOf(name);
      for (let k = 0; k < dim; k++) out[k] += w * v[k];
    }
    return out;
  }

  // looks.adjust: the slider edit vivid * V + warmth * W, applied after the look.
  function adjustment(vivid, warmth) {
    const V = sliders.vivid_direction, W = sliders.warmth_direction;
    return Float32Array.from(V, (v, k) => vivid * v + warmth * W[k]);
  }

  function mixLabel(mix) {
    return mix.length === 1 ? mix[0][0]
      : mix.map(([n, w]) => `${n}${Math.round(100 * w)}`).join("-");
  }

  // The size the photo is processed at: its longer side at 256 or 512 px, or its own size
  // ("full", up to MAX_FULL_PIXELS).
  function targetSize(img) {
    const choice = $("size").value;
    const W = img.naturalWidth || img.width, H = img.naturalHeight || img.height;
    stats.scaledFrom = null;
    if (choice === "full") {
      if (W * H <= MAX_FULL_PIXELS) return [W, H];
      const k = Math.sqrt(MAX_FULL_PIXELS / (W * H));
      stats.scaledFrom = [H, W];
      return [Math.max(64, Math.floor(W * k)), Math.max(64, Math.floor(H * k))];
    }
    const size = parseInt(choice, 10);
    const scale = size / Math.max(W, H);
    return [Math.max(64, Math.round(W * scale)), Math.max(64, Math.round(H * scale))];
  }

  // Draw an image into the "before" canvas at the processing size; canvases are shown at
  // their column's width whatever their pixel size.
  function showPhoto(img) {
    const [w, h] = targetSize(img);
    for (const id of ["before", "after", "truth"]) {
      const c = $(id);
      c.width = w; c.height = h;               // shown at the column's width (CSS height: auto)
    }
    const ctx = $("before").getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0, w, h);
    stats.size = [h, w];
  }

  function toImageData(y, w, h) {
    const n = w * h, out = new ImageData(w, h);
    for (let i = 0; i < n; i++) {
      out.data[4 * i] = Math.round(255 * Math.min(1, Math.max(0, y[i])));
      out.data[4 * i + 1] = Math.round(255 * Math.min(1, Math.max(0, y[n + i])));
      out.data[4 * i + 2] = Math.round(255 * Math.min(1, Math.max(0, y[2 * n + i])));
      out.data[4 * i + 3] = 255;
    }
    return out;
  }

  // ---- CIEDE2000, as scikit-image computes it (rgb2lab, D65 / 2°; deltaE_ciede2000) ----------
  function toLab(y, n) {
    const lab = new Float32Array(3 * n);
    const lin = (v) => (v > 0.04045 ? Math.pow((v + 0.055) / 1.055, 2.4) : v / 12.92);
    const f = (t) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
    for (let i = 0; i < n; i++) {
      const r = lin(y[i]), g = lin(y[n + i]), b = lin(y[2 * n + i]);
      const X = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047;
      const Y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
      const Z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883;
      const fx = f(X), fy = f(Y), fz = f(Z);
      lab[3 * i] = 116 * fy - 16; lab[3 * i + 1] = 500 * (fx - fy); lab[3 * i + 2] = 200 * (fy - fz);
    }
    return lab;
  }

  const P25_7 = Math.pow(25, 7), TAU = 2 * Math.PI, RAD = Math.PI / 180;
  function ciede2000(L1, a1, b1, L2, a2, b2) {
    let c7 = Math.pow(0.5 * (Math.hypot(a1, b1) + Math.hypot(a2, b2)), 7);
    const scale = 1 + 0.5 * (1 - Math.sqrt(c7 / (c7 + P25_7)));
    const C1 = Math.hypot(a1 * scale, b1), C2 = Math.hypot(a2 * scale, b2);
    let h1 = Math.atan2(b1, a1 * scale), h2 = Math.atan2(b2, a2 * scale);
    if (h1 < 0) h1 += TAU;
    if (h2 < 0) h2 += TAU;
    const Lbar = 0.5 * (L1 + L2), tmp = (Lbar - 50) * (Lbar - 50);
    const Lterm = (L2 - L1) / (1 + 0.015 * tmp / Math.sqrt(20 + tmp));
    const Cbar = 0.5 * (C1 + C2);
    const Cterm = (C2 - C1) / (1 + 0.045 * Cbar);
    const hdiff = h2 - h1, hsum = h1 + h2, CC = C1 * C2;
    let dH = hdiff;
    if (hdiff > Math.PI) dH -= TAU;
    if (hdiff < -Math.PI) dH += TAU;
    if (CC === 0) dH = 0;
    const dHterm = 2 * Math.sqrt(CC) * Math.sin(dH / 2);
    let Hbar = hsum;
    if (CC !== 0 && Math.abs(hdiff) > Math.PI) Hbar += hsum < TAU ? TAU : -TAU;
    if (CC === 0) Hbar *= 2;
    Hbar *= 0.5;
    const T = 1 - 0.17 * Math.cos(Hbar - 30 * RAD) + 0.24 * Math.cos(2 * Hbar)
      + 0.32 * Math.cos(3 * Hbar + 6 * RAD) - 0.20 * Math.cos(4 * Hbar - 63 * RAD);
    const Hterm = dHterm / (1 + 0.015 * Cbar * T);
    c7 = Math.pow(Cbar, 7);
    const Rc = 2 * Math.sqrt(c7 / (c7 + P25_7));
    const dtheta = 30 * RAD * Math.exp(-Math.pow((Hbar / RAD - 275) / 25, 2));
    const Rterm = -Math.sin(2 * dtheta) * Rc * Cterm * Hterm;
    return Math.sqrt(Math.max(Lterm * Lterm + Cterm * Cterm + Hterm * Hterm + Rterm, 0));
  }

  // Mean ΔE2000 of two (3, H, W) planar float images in [0, 1], over every `step`-th pixel
  // (step 1: all of them, as ig.metrics.delta_e2000 does).
  function meanDeltaE(y1, y2, n, step = 1) {
    const lab = (y, i) => toLab([y[i], y[n + i], y[2 * n + i]], 1);
    let sum = 0, count = 0;
    for (let i = 0; i < n; i += step) {
      const A = lab(y1, i), B = lab(y2, i);
      sum += ciede2000(A[0], A[1], A[2], B[0], B[1], B[2]);
      count += 1;
    }
    return sum / count;
  }
  // Photos larger than this are scored on every k-th pixel (a full-size phone photo would
  // otherwise take the page many seconds); the status line says so.
  const DELTA_E_PIXELS = 1 << 20;
  window.studioDeltaE = meanDeltaE;            // checked against scikit-image by the browser test

  // The slider table: the ground truth's slider values beside the ones G set (grain left out:
  // the ground truth is rendered without it, and G's grain slider is always 0).
  function showSliders(truth, gan) {
    const body = $("slider-rows");
    body.replaceChildren();
    sliders.param_names.forEach((name, k) => {
      if (name === "grain") return;
      const tr = document.createElement("tr");
      const cells = [name.replace(/_/g, " "), truth[k].toFixed(2), gan ? gan[k].toFixed(2) : "—"];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      if (Math.abs(truth[k]) < 0.005 && (!gan || Math.abs(gan[k]) < 0.005)) tr.className = "zero";
      body.append(tr);
    });
  }

  async function run() {
    if (!session) return;
    if (busy) { pending = true; return; }
    busy = true;
    try {
      do {
        pending = false;
        const mix = mixWeights();
        if (!mix) { setStatus("give at least one look a weight above 0", "ready"); break; }
        const style = combine(mix, (n) => looks.looks[n].style, looks.style_dim);
        const nParams = sliders.param_names.length;
        const [vivid, warmth, strength] = ["vivid", "warmth", "strength"].map((id) => Number($(id).value));
        const truthParams = combine(mix, (n) => sliders.named[n], nParams);
        const before = $("before"), w = before.width, h = before.height;
        const rgba = before.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, w, h).data;
        const n = w * h, x = new Float32Array(3 * n);
        for (let i = 0; i < n; i++) {
          x[i] = rgba[4 * i] / 255; x[n + i] = rgba[4 * i + 1] / 255; x[2 * n + i] = rgba[4 * i + 2] / 255;
        }
        const image = new ort.Tensor("float32", x, [1, 3, h, w]);
        const c = new ort.Tensor("float32", new Float32Array([vivid, warmth, strength]), [1, 3]);
        const t0 = performance.now();
        const result = await session.run({
          image, style: new ort.Tensor("float32", style, [1, looks.style_dim]), c,
        });
        const ms = performance.now() - t0;
        const y = result[session.outputNames[0]].data;
        $("after").getContext("2d").putImageData(toImageData(y, w, h), 0, 0);
        const t1 = performance.now();
        // looks.personal_edit: photo + strength * (adjust(look, vivid, warmth) - photo)
        const full = await editor.run({ image, params: new ort.Tensor("float32", truthParams, [1, nParams]) });
        const adjusted = (await editor.run({
          image: full[editor.outputNames[0]],
          params: new ort.Tensor("float32", adjustment(vivid, warmth), [1, nParams]),
        }))[editor.outputNames[0]].data;
        const truth = new Float32Array(3 * n);
        for (let i = 0; i < 3 * n; i++) truth[i] = x[i] + strength * (adjusted[i] - x[i]);
        stats.truthMs = performance.now() - t1;
        $("truth").getContext("2d").putImageData(toImageData(truth, w, h), 0, 0);
        let ganParams = null;
        if (sliderHead) {
          const out = await sliderHead.run({ style: new ort.Tensor("float32", style, [1, looks.style_dim]), c });
          ganParams = Array.from(out[sliderHead.outputNames[0]].data);
        }
        showSliders(truthParams, ganParams);
        stats.deltaEStep = Math.ceil(n / DELTA_E_PIXELS);
        stats.deltaE = meanDeltaE(y, truth, n, stats.deltaEStep);
        $("delta-e").textContent = stats.deltaE.toFixed(2);
        const sampled = stats.deltaEStep > 1 ? ` (over every ${stats.deltaEStep}th pixel)` : "";
        stats.mix = mixLabel(mix);
        stats.runs += 1; stats.lastMs = ms; stats.times.push(ms);
        root.dataset.runs = String(stats.runs);
        const scaled = stats.scaledFrom ? ` (your photo, ${stats.scaledFrom[1]}×${stats.scaledFrom[0]} px, ` +
          `was scaled down to fit ${(MAX_FULL_PIXELS / 1e6).toFixed(1)} megapixels)` : "";
        setStatus(`G ran in ${ms.toFixed(0)} ms at ${w}×${h} px in your browser${scaled} ` +
                  `(onnxruntime-web, WASM; median ${median(stats.times).toFixed(0)} ms over ${stats.times.length} runs). ` +
                  `Mean ΔE2000 between G and the exact ground truth: ${stats.deltaE.toFixed(2)}${sampled}.`, "ready");
      } while (pending);
    } catch (e) {
      fail(`the model could not run: ${e.message || e}`,
           $("size").value === "full" ? "Your photo may be too large for this browser: choose 512 px." : "");
    } finally {
      busy = false;
    }
  }

  // Save the styled image (G's answer) as a PNG, at the size it was computed at.
  function download() {
    if (!stats.runs) return;
    const name = `${currentName.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_")}_${stats.mix}.png`;
    $("after").toBlob((blob) => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      stats.downloads.push({ name, bytes: blob.size, size: [...stats.size] });
    }, "image/png");
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("not an image this browser can read"));
      img.src = url;
    });
  }

  async function usePhoto(url, label) {
    let img;
    try {
      img = await loadImage(url);
    } catch (e) {
      setStatus(`${label}: ${e.message}; keeping the previous photo`, "ready");
      return;
    }
    currentImage = img;
    currentName = label;
    showPhoto(currentImage);
    await run();
  }

  function labelOutputs() {
    for (const id of ["weight-0", "weight-1", "weight-2", "vivid", "warmth", "strength"]) {
      $(`${id}-out`).textContent = Number($(id).value).toFixed(2);
    }
    for (let i = 0; i < 3; i++) {
      const sel = $(`look-${i}`);
      sel.title = looks.looks[sel.value].description;
    }
  }

  async function main() {
    if (window.location.protocol === "file:") {
      fail("This page was opened as a file (file://), and browsers do not let a page read its " +
           "model and photos from the disk.",
           "Serve the built book over HTTP instead, from the repository's top folder:", SERVE);
      return;
    }
    if (typeof ort === "undefined") {
      fail("onnxruntime-web did not load: ort/ort.wasm.min.js is missing.", BUILD_HELP, SERVE);
      return;
    }
    ort.env.wasm.wasmPaths = new URL("ort/", window.location.href).href;
    ort.env.wasm.numThreads = 1;               // no SharedArrayBuffer on a plain static site
    ort.env.logLevel = "error";
    try {
      [looks, sliders] = await Promise.all([getJSON("model/looks.looks.json"), getJSON("model/sliders.json")]);
      const photos = await getJSON("model/photos.json");
      const names = Object.keys(looks.looks);
      for (let i = 0; i < 3; i++) {
        const sel = $(`look-${i}`);
        for (const name of names) sel.add(new Option(name.replace(/_/g, " "), name));
        sel.value = names[i % names.length];
      }
      for (const p of photos) $("photo").add(new Option(p.name, p.file));
      [session, editor, sliderHead] = await Promise.all([
        getSession("model/" + looks.onnx),
        getSession("model/" + sliders.editor),
        sliders.params_onnx ? getSession("model/" + sliders.params_onnx) : Promise.resolve(null),
      ]);
      labelOutputs();
      for (const id of ["look-0", "look-1", "look-2", "weight-0", "weight-1", "weight-2", "vivid", "warmth", "strength"]) {
        $(id).addEventListener("input", () => { labelOutputs(); run(); });
      }
      $("photo").addEventListener("change", () => usePhoto("model/" + $("photo").value, $("photo").value.split("/").pop()));
      $("size").addEventListener("change", () => { if (currentImage) { showPhoto(currentImage); run(); } });
      $("file").addEventListener("change", () => {
        const f = $("file").files[0];
        if (!f) return;
        const url = URL.createObjectURL(f);        // read locally: nothing is uploaded
        usePhoto(url, f.name).finally(() => URL.revokeObjectURL(url));
      });
      $("download").addEventListener("click", download);
      $("download").disabled = false;
      await usePhoto("model/" + photos[0].file, photos[0].file.split("/").pop());
    } catch (e) {
      fail(`The demo could not start: ${e.message || e}.`, BUILD_HELP, SERVE);
    }
  }

  main();
})();
