import { api, downloadLink, el, followTask, guarded, requireUser, stepList } from "/static/api.js";

const form = document.getElementById("segment-form");
const resourceSelect = document.getElementById("resource");
const versionSelect = document.getElementById("version");
const photosInput = document.getElementById("photos");
const dropzone = document.getElementById("dropzone");
const canvas = document.getElementById("prompt-canvas");
const promptArea = document.getElementById("prompt-area");
const progress = document.getElementById("progress");
const results = document.getElementById("results");
let photos = [];
const prompt = { points: [], boxes: [] }; // pixels of the original photo: [x, y, label], [x0, y0, x1, y1]
let firstImage = null;

async function loadResources() {
  const resources = (await api("/resources?limit=500")).filter((r) => r.kind === "segmenter.sam" && r.latest_version);
  if (!resources.length) {
    document.getElementById("segment").prepend(el("p", { class: "notice" }, "No SAM model you may use has a version yet. ",
      el("a", { href: "/explore" }, "Explore"), " the models, or ", el("a", { href: "/provide" }, "provide one"), "."));
    return;
  }
  resourceSelect.replaceChildren(...resources.map((r) => el("option", { value: r.name, disabled: !r.permissions.includes("use") },
    `${r.title} (${r.name})${r.permissions.includes("use") ? "" : " — ask for access"}`)));
  const wanted = new URLSearchParams(location.search).get("resource");
  if (wanted) resourceSelect.value = wanted;
  await loadVersions();
}

async function loadVersions() {
  const versions = await api(`/resources/${resourceSelect.value}/versions`);
  versionSelect.replaceChildren(...versions.slice().reverse().map((v) => el("option", { value: v.version }, `v${v.version} · ${v.digest.slice(7, 19)}`)));
}

function setPhotos(files) {
  photos = [...files].filter((f) => f.type.startsWith("image/") || /\.(png|jpe?g|tiff?|bmp|webp)$/i.test(f.name));
  prompt.points = [];
  prompt.boxes = [];
  if (!photos.length) return;
  const image = new Image();
  image.onload = () => { firstImage = image; drawPrompts(); };
  image.src = URL.createObjectURL(photos[0]);
}

function drawPrompts() {
  if (!firstImage) return;
  canvas.width = firstImage.naturalWidth;
  canvas.height = firstImage.naturalHeight;
  canvas.style.maxWidth = "100%";
  const g = canvas.getContext("2d");
  g.drawImage(firstImage, 0, 0);
  g.lineWidth = Math.max(2, canvas.width / 300);
  for (const [x0, y0, x1, y1] of prompt.boxes) { g.strokeStyle = "#00e0ff"; g.strokeRect(x0, y0, x1 - x0, y1 - y0); }
  for (const [x, y, label] of prompt.points) {
    g.fillStyle = label ? "#22c55e" : "#ef4444";
    g.beginPath(); g.arc(x, y, Math.max(4, canvas.width / 120), 0, 2 * Math.PI); g.fill();
  }
  document.getElementById("prompt-summary").textContent =
    `${prompt.points.length} point(s), ${prompt.boxes.length} box(es) on ${photos[0].name}.`;
}

function photoPixel(event) {
  const box = canvas.getBoundingClientRect();
  const x = Math.round(((event.clientX - box.left) / box.width) * canvas.width);
  const y = Math.round(((event.clientY - box.top) / box.height) * canvas.height);
  return [Math.min(Math.max(x, 0), canvas.width - 1), Math.min(Math.max(y, 0), canvas.height - 1)];
}

let dragStart = null;
canvas.addEventListener("pointerdown", (event) => { dragStart = photoPixel(event); });
canvas.addEventListener("pointerup", (event) => {
  if (!dragStart) return;
  const [x, y] = photoPixel(event);
  const [x0, y0] = dragStart;
  dragStart = null;
  if (Math.abs(x - x0) > 4 && Math.abs(y - y0) > 4) prompt.boxes.push([Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y)]);
  else prompt.points.push([x0, y0, event.shiftKey ? 0 : 1]);
  drawPrompts();
});
document.getElementById("clear-prompts").addEventListener("click", () => { prompt.points = []; prompt.boxes = []; drawPrompts(); });
for (const radio of form.querySelectorAll("input[name=mode]")) {
  radio.addEventListener("change", () => { promptArea.hidden = form.mode.value !== "prompt"; drawPrompts(); });
}
photosInput.addEventListener("change", () => setPhotos(photosInput.files));
dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => { event.preventDefault(); dropzone.classList.remove("over"); setPhotos(event.dataTransfer.files); });
resourceSelect.addEventListener("change", () => guarded(loadVersions));

function showProgress(task) {
  progress.hidden = false;
  progress.replaceChildren(...[
    el("p", {}, "Task ", el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)), " · ",
      el("span", { id: "task-status", class: `status ${task.status}` }, task.status)),
    el("progress", { max: 1, value: task.progress, "aria-label": "progress" }),
    stepList(task),
    task.error ? el("p", { class: "error" }, task.error) : null,
  ].filter(Boolean));
}

/** The segment under (x, y): the last-painted (highest id) whose visible polygon contains the point. */
function segmentAt(segments, x, y) {
  for (let i = segments.length - 1; i >= 0; i -= 1) {
    for (const polygon of segments[i].polygons) if (inside(polygon, x, y)) return segments[i];
  }
  return null;
}

function inside(polygon, x, y) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

async function showResults(task) {
  const folders = new Map();
  for (const output of task.outputs) {
    const [folder, name] = output.name.split("/");
    if (!folders.has(folder)) folders.set(folder, {});
    folders.get(folder)[name] = output;
  }
  const sections = [];
  let index = 0;
  for (const [folder, files] of folders) {
    const segments = files["segments.json"] ? await (await fetch(files["segments.json"].url)).json() : null;
    const photoName = segments ? segments.image.name : folder;
    const photo = photos.find((p) => p.name === photoName) || photos[index];
    index += 1;
    const info = el("p", { class: "hint", "aria-live": "polite", "data-role": "segment-info" }, segments ? "Hover a segment to see its id, area and score." : "");
    const figures = [el("figure", {}, el("img", { src: photo ? URL.createObjectURL(photo) : "", alt: `photo ${photoName}` }), el("figcaption", {}, "Photo"))];
    for (const [name, caption] of [["hard.png", "Hard masks"], ["blended.png", "Blended masks"]]) {
      if (!files[name]) continue;
      const image = el("img", { src: files[name].url, alt: `${caption.toLowerCase()} of ${photoName}`, "data-output": name });
      if (segments) {
        image.addEventListener("mousemove", (event) => {
          const box = image.getBoundingClientRect();
          const x = ((event.clientX - box.left) / box.width) * segments.image.width;
          const y = ((event.clientY - box.top) / box.height) * segments.image.height;
          const found = segmentAt(segments.segments, x, y);
          info.textContent = found
            ? `Segment ${found.id}: area ${found.area} px, predicted IoU ${found.predicted_iou?.toFixed(3) ?? "—"}, stability ${found.stability_score?.toFixed(3) ?? "—"}`
            : "No segment here.";
        });
      }
      figures.push(el("figure", {}, image, el("figcaption", {}, caption)));
    }
    sections.push(el("section", { class: "card", "data-folder": folder },
      el("h2", {}, photoName, segments ? ` — ${segments.segments.length} segments` : ""),
      el("div", { class: "images" }, figures), info,
      el("p", {}, "Download: ", ...Object.values(files).flatMap((o) => [downloadLink(o.url, o.name.split("/")[1]), " "]),
        task.manifest_url ? downloadLink(task.manifest_url, "manifest.json") : null)));
  }
  results.replaceChildren(...sections);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    if (!photos.length) throw new Error("Choose or drop at least one photo first.");
    const outputs = [...form.querySelectorAll("input[name=output]:checked")].map((box) => box.value);
    if (!outputs.length) throw new Error("Tick at least one output: hard masks, blended masks or JSON.");
    const mode = form.mode.value;
    if (mode === "prompt" && !prompt.points.length && !prompt.boxes.length) throw new Error("Click a point or drag a box on the photo first.");
    const run = document.getElementById("run");
    run.disabled = true;
    results.replaceChildren();
    try {
      const inputs = [];
      for (const photo of photos) {
        const body = new FormData();
        body.append("file", photo, photo.name);
        inputs.push((await api("/uploads", { method: "POST", form: body })).id);
      }
      const pointsPerSide = Number(document.getElementById("points-per-side").value);
      const params = { mode, outputs, ...(mode === "prompt" ? { prompt } : { auto: { points_per_side: pointsPerSide } }) };
      let task = await api("/tasks", { method: "POST", json: { resource: resourceSelect.value, version: Number(versionSelect.value), inputs, params } });
      showProgress(task);
      task = (await followTask(task.id, (name, data) => { if (name === "task") showProgress(data); })) || task;
      if (task.status === "succeeded") await showResults(task);
    } finally {
      run.disabled = false;
    }
  });
});

guarded(async () => {
  if (!(await requireUser(document.getElementById("segment")))) return;
  await loadResources();
});
