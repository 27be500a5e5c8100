// Live masks on the Segment page: SAM's prompt decoder (an `export` task's decoder.onnx, made once per version and
// reused: the caller's latest succeeded export of the version) and the photo's embedding (an `embed` task) run in
// the page with ONNX Runtime Web, served from /static/vendor/ort/ (no CDN). Every hover and click is decoded here,
// in tens of milliseconds, instead of a task per click; "Save" then runs a prompt task with the same points.

import { api, followTask } from "/static/api.js";

const ORT = "/static/vendor/ort/";
const MASK_RGBA = [30, 144, 255, 150];
let ortLoaded = null;
const decoders = new Map(); // "resource@version" → Promise<InferenceSession>
const embeddings = new Map(); // "resource@version#upload" → Promise<{tensor, info}>

/** Whether SamPredictor proposes three masks for this prompt (what the decoder graph keeps; see
 * resources/sam/onnx_decoder.py `multimask_for`): one point alone, or one box alone. */
export function multimaskFor(points, boxes) {
  return points.length + (boxes.length ? 2 : 1) <= 2;
}

function loadOrt() {
  ortLoaded ||= import(`${ORT}ort.wasm.min.mjs`).then((ort) => {
    ort.env.logLevel = "error";
    ort.env.wasm.wasmPaths = ORT;
    // Threads need cross-origin isolation (SharedArrayBuffer): the Segment page has it (api/security.py WASM_HEADERS).
    ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    ort.env.wasm.proxy = false;
    return ort;
  });
  return ortLoaded;
}

async function finished(task) {
  const done = (await followTask(task.id, () => {})) || task;
  if (done.status !== "succeeded") throw new Error(`task ${task.id.slice(0, 8)} ${done.status}${done.error ? `: ${done.error}` : ""}`);
  return api(`/tasks/${task.id}`);
}

async function bytesOf(task, name) {
  const output = task.outputs.find((o) => o.name === name);
  if (!output) throw new Error(`task ${task.id.slice(0, 8)} has no ${name}`);
  if (!output.url) throw new Error(`${name} is withheld: ${output.withheld}`);
  const response = await fetch(output.url);
  if (!response.ok) throw new Error(`could not read ${name} (HTTP ${response.status})`);
  return response.arrayBuffer();
}

async function exportTask(resource, version) {
  const done = await api("/tasks?mode=export&status=succeeded&limit=100");
  const found = done.find((t) => t.resource === resource && t.version === version && t.outputs.some((o) => o.name === "decoder.onnx"));
  if (found) return found;
  return finished(await api("/tasks", { method: "POST", json: { resource, version, mode: "export", params: {} } }));
}

function decoder(resource, version) {
  const key = `${resource}@${version}`;
  if (!decoders.has(key)) {
    const made = Promise.all([loadOrt(), exportTask(resource, version)]).then(async ([ort, task]) =>
      ort.InferenceSession.create(new Uint8Array(await bytesOf(task, "decoder.onnx")), {
        executionProviders: ["wasm"], logSeverityLevel: 3, graphOptimizationLevel: "all",
      }));
    made.catch(() => decoders.delete(key)); // a failure is tried again next time
    decoders.set(key, made);
  }
  return decoders.get(key);
}

function embedding(resource, version, uploadId) {
  const key = `${resource}@${version}#${uploadId}`;
  if (!embeddings.has(key)) {
    const made = (async () => {
      const task = await finished(await api("/tasks", { method: "POST", json: { resource, version, mode: "embed", inputs: [uploadId], params: {} } }));
      const [ort, info, data] = await Promise.all([loadOrt(), bytesOf(task, "embedding.json"), bytesOf(task, "embedding.bin")]);
      const described = JSON.parse(new TextDecoder().decode(info));
      return { tensor: new ort.Tensor("float32", new Float32Array(data), described.shape), info: described };
    })();
    made.catch(() => embeddings.delete(key));
    embeddings.set(key, made);
  }
  return embeddings.get(key);
}

/** The decoder's inputs for points [x, y, label] and at most one box, in photo pixels (ResizeLongestSide). */
function feeds(ort, { tensor, info }, points, box) {
  const [height, width] = info.original_size;
  const [inH, inW] = info.input_size;
  const coords = points.map(([x, y]) => [x, y]);
  const labels = points.map(([, , label]) => label);
  if (box) { coords.push([box[0], box[1]], [box[2], box[3]]); labels.push(2, 3); } else { coords.push([0, 0]); labels.push(-1); }
  const scaled = new Float32Array(coords.flatMap(([x, y]) => [x * (inW / width), y * (inH / height)]));
  const [, , side1, side2] = info.shape;
  return {
    image_embeddings: tensor,
    point_coords: new ort.Tensor("float32", scaled, [1, coords.length, 2]),
    point_labels: new ort.Tensor("float32", new Float32Array(labels), [1, labels.length]),
    mask_input: new ort.Tensor("float32", new Float32Array(16 * side1 * side2), [1, 1, 4 * side1, 4 * side2]),
    has_mask_input: new ort.Tensor("float32", new Float32Array([0]), [1]),
    orig_im_size: new ort.Tensor("float32", new Float32Array([height, width]), [2]),
  };
}

/** Live masks over the prompt canvas. `overlay` is a canvas laid over it; `status` says what is happening. */
export function liveDecoder({ canvas, overlay, status, prompt }) {
  let ready = null; // { session, embedding, ort, key }
  let wanted = 0; // bumps on every change of model or photo: older preparations are dropped
  let busy = false;
  let pending = null;
  let running = null; // the request being decoded
  let lastKey = null; // the prompt whose mask is shown
  let shown = 0; // masks painted so far (overlay.dataset.shown), with `ms`: from the request to the painted mask

  function say(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  function paint(logits, height, width) {
    overlay.width = width;
    overlay.height = height;
    const g = overlay.getContext("2d");
    const image = g.createImageData(width, height);
    const pixels = new Uint32Array(image.data.buffer); // one RGBA pixel per word, in the platform's byte order
    const colour = new Uint32Array(new Uint8ClampedArray(MASK_RGBA).buffer)[0];
    let area = 0;
    for (let i = 0; i < logits.length; i += 1) {
      if (logits[i] > 0) {
        pixels[i] = colour;
        area += 1;
      }
    }
    g.putImageData(image, 0, 0);
    overlay.liveMask = { width, height, logits }; // what is shown, for checks (the canvas is never read back)
    return area;
  }

  async function run(request) {
    const { points, boxes, started } = request;
    if (!ready) return;
    if (boxes.length > 1 || (!points.length && !boxes.length)) {
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
      overlay.dataset.points = "";
      return;
    }
    const { session, embedding: found, ort } = ready;
    const began = performance.now();
    const output = await session.run(feeds(ort, found, points, boxes[0]), ["masks"]);
    const ran = performance.now() - began;
    const [height, width] = found.info.original_size;
    const area = paint(output.masks.data, height, width);
    const took = performance.now() - started;
    shown += 1;
    Object.assign(overlay.dataset, {
      points: JSON.stringify(points), boxes: JSON.stringify(boxes), area: String(area), ms: took.toFixed(1),
      kind: request.hover ? "hover" : "prompt", shown: String(shown), run: ran.toFixed(1), // a click may turn a hover
    });
  }

  /** Decode (points, boxes) now, or right after the decode in flight (only the latest request waits). */
  function request(points, boxes, hover = false) {
    const key = JSON.stringify([points, boxes]);
    if (!hover && running && running.key === key) {
      running.hover = false; // the click keeps the point the pointer was previewing: that decode is its mask
      pending = null;
      return;
    }
    if (!hover && !running && overlay.dataset.kind === "hover" && lastKey === key) {
      Object.assign(overlay.dataset, { kind: "prompt", ms: "0.0", shown: String((shown += 1)) });
      return;
    }
    pending = { points, boxes, hover, key, started: performance.now() };
    if (busy) return;
    busy = true;
    (async () => {
      while (pending) {
        running = pending;
        pending = null;
        try {
          await run(running);
          lastKey = running.key;
        } catch (error) {
          say(`Live masks stopped: ${error.message}. Points still work; Save runs them as a task.`, "failed");
          ready = null;
        }
      }
      running = null;
      busy = false;
    })();
  }

  canvas.addEventListener("pointermove", (event) => {
    if (!ready) return;
    const { points, boxes } = prompt.params();
    request([...points, [...prompt.pixel(event), event.shiftKey ? 0 : prompt.label()]], boxes, true);
  });
  canvas.addEventListener("pointerleave", () => { if (ready) changed(); });

  /** The prompt changed (a click, undo, clear): show its mask. */
  function changed() {
    const { points, boxes } = prompt.params();
    request(points, boxes);
  }

  return {
    changed,
    /** Get the decoder and the photo's embedding for a model version; `uploadId()` uploads the photo. */
    async prepare(resource, version, uploadId) {
      const mine = (wanted += 1);
      ready = null;
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
      say("Preparing live masks: loading SAM's decoder and computing the photo's embedding…", "preparing");
      try {
        const id = await uploadId();
        const [session, found, ort] = await Promise.all([decoder(resource, version), embedding(resource, version, id), loadOrt()]);
        if (mine !== wanted) return;
        const [height, width] = found.info.original_size;
        await session.run(feeds(ort, found, [[width / 2, height / 2, 1]], null)); // the first run sets the graph up
        if (mine !== wanted) return;
        ready = { session, embedding: found, ort };
        say("Live masks ready: point at the photo to preview a mask, click to keep a point, then Save.", "ready");
        changed();
      } catch (error) {
        if (mine === wanted) say(`Live masks are not available (${error.message}); Save still runs the points as a task.`, "failed");
      }
    },
    stop() {
      wanted += 1;
      ready = null;
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
      say("", "off");
    },
  };
}
