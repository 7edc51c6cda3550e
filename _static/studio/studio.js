// The studio chapter's in-browser demo: G(x | s, c) with onnxruntime-web (WASM backend).
//
// The style code s given to the network is a convex combination of the named looks' codes
// (exported beside the model by influencer_gan.export): exactly what the Python studio feeds
// the conditional batch norm (§4.4). c = (vivid, warmth, strength) is the personal condition.
// Every asset comes from this folder (ort/ and model/, written by scripts/build_web_demo.py).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const root = $("studio");
  const stats = { runs: 0, times: [], lastMs: null, size: null, backend: "wasm", error: null };
  window.studioStats = stats;                  // read by the book's browser test

  let session = null, looks = null, busy = false, pending = false;

  function setStatus(text, state) {
    $("status").textContent = text;
    if (state) root.dataset.state = state;
  }

  function fail(message) {
    stats.error = message;
    setStatus(message, "error");
  }

  function median(a) {
    const s = [...a].sort((x, y) => x - y);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
  }

  // The style code: Σ w_i s_i / Σ w_i over the three look pickers.
  function styleCode() {
    const dim = looks.style_dim, code = new Float32Array(dim);
    let total = 0;
    for (let i = 0; i < 3; i++) {
      const w = parseFloat($(`weight-${i}`).value);
      const s = looks.looks[$(`look-${i}`).value].style;
      total += w;
      for (let k = 0; k < dim; k++) code[k] += w * s[k];
    }
    if (total <= 0) return null;
    for (let k = 0; k < dim; k++) code[k] /= total;
    return code;
  }

  // Draw an image into the "before" canvas, its longer side scaled to the chosen size.
  function showPhoto(img) {
    const size = parseInt($("size").value, 10);
    const scale = size / Math.max(img.width, img.height);
    const w = Math.max(64, Math.round(img.width * scale)), h = Math.max(64, Math.round(img.height * scale));
    for (const id of ["before", "after"]) {
      const c = $(id);
      c.width = w; c.height = h;
      c.style.height = `${Math.round(256 * h / w)}px`;
    }
    const ctx = $("before").getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0, w, h);
    stats.size = [h, w];
  }

  async function run() {
    if (!session) return;
    if (busy) { pending = true; return; }
    busy = true;
    try {
      do {
        pending = false;
        const style = styleCode();
        if (!style) { setStatus("give at least one look a weight above 0", "ready"); break; }
        const before = $("before"), w = before.width, h = before.height;
        const rgba = before.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, w, h).data;
        const n = w * h, x = new Float32Array(3 * n);
        for (let i = 0; i < n; i++) {
          x[i] = rgba[4 * i] / 255; x[n + i] = rgba[4 * i + 1] / 255; x[2 * n + i] = rgba[4 * i + 2] / 255;
        }
        const c = new Float32Array([$("vivid").value, $("warmth").value, $("strength").value].map(Number));
        const t0 = performance.now();
        const result = await session.run({
          image: new ort.Tensor("float32", x, [1, 3, h, w]),
          style: new ort.Tensor("float32", style, [1, looks.style_dim]),
          c: new ort.Tensor("float32", c, [1, 3]),
        });
        const ms = performance.now() - t0;
        const y = result[session.outputNames[0]].data;
        const out = new ImageData(w, h);
        for (let i = 0; i < n; i++) {
          out.data[4 * i] = Math.round(255 * Math.min(1, Math.max(0, y[i])));
          out.data[4 * i + 1] = Math.round(255 * Math.min(1, Math.max(0, y[n + i])));
          out.data[4 * i + 2] = Math.round(255 * Math.min(1, Math.max(0, y[2 * n + i])));
          out.data[4 * i + 3] = 255;
        }
        $("after").getContext("2d").putImageData(out, 0, 0);
        stats.runs += 1; stats.lastMs = ms; stats.times.push(ms);
        root.dataset.runs = String(stats.runs);
        setStatus(`G ran in ${ms.toFixed(0)} ms at ${w}×${h} px in your browser ` +
                  `(onnxruntime-web, WASM; median ${median(stats.times).toFixed(0)} ms over ${stats.times.length} runs)`, "ready");
      } while (pending);
    } catch (e) {
      fail(`the model could not run: ${e.message || e}`);
    } finally {
      busy = false;
    }
  }

  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("not an image this browser can read"));
      img.src = url;
    });
  }

  let currentImage = null;
  async function usePhoto(url, label) {
    try {
      currentImage = await loadImage(url);
    } catch (e) {
      setStatus(`${label}: ${e.message}; keeping the previous photo`, "ready");
      return;
    }
    showPhoto(currentImage);
    await run();
  }

  function labelOutputs() {
    for (const id of ["weight-0", "weight-1", "weight-2", "vivid", "warmth", "strength"]) {
      $(`${id}-out`).textContent = Number($(id).value).toFixed(2);
    }
  }

  async function main() {
    if (typeof ort === "undefined") { fail("onnxruntime-web did not load (ort/ort.wasm.min.js)"); return; }
    ort.env.wasm.wasmPaths = new URL("ort/", window.location.href).href;
    ort.env.wasm.numThreads = 1;               // no SharedArrayBuffer on a plain static site
    ort.env.logLevel = "error";
    const [looksJson, photos] = await Promise.all([
      fetch("model/looks.looks.json").then((r) => r.json()),
      fetch("model/photos.json").then((r) => r.json()),
    ]);
    looks = looksJson;
    const names = Object.keys(looks.looks);
    for (let i = 0; i < 3; i++) {
      const sel = $(`look-${i}`);
      for (const name of names) sel.add(new Option(name.replace(/_/g, " "), name));
      sel.value = names[i % names.length];
      sel.title = looks.looks[sel.value].description;
    }
    for (const p of photos) $("photo").add(new Option(p.name, p.file));
    session = await ort.InferenceSession.create("model/" + looks.onnx, { executionProviders: ["wasm"] });
    labelOutputs();
    for (const id of ["look-0", "look-1", "look-2", "weight-0", "weight-1", "weight-2", "vivid", "warmth", "strength"]) {
      $(id).addEventListener("input", () => { labelOutputs(); run(); });
    }
    $("photo").addEventListener("change", () => usePhoto("model/" + $("photo").value, $("photo").value));
    $("size").addEventListener("change", () => { if (currentImage) { showPhoto(currentImage); run(); } });
    $("file").addEventListener("change", () => {
      const f = $("file").files[0];
      if (!f) return;
      const url = URL.createObjectURL(f);        // read locally: nothing is uploaded
      usePhoto(url, f.name).finally(() => URL.revokeObjectURL(url));
    });
    await usePhoto("model/" + photos[0].file, photos[0].name);
  }

  main().catch((e) => fail(`the demo could not start: ${e.message || e}`));
})();
