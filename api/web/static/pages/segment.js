import { api, el, followTask, guarded, param, requireUser, showError, stepList } from "/static/api.js";
import { liveDecoder, multimaskFor } from "/static/pages/segment-decode.js";
import { timeLeft } from "/static/pages/segment-progress.js";
import { promptEditor } from "/static/pages/segment-prompts.js";
import { loadTask, reopenedNotice } from "/static/pages/segment-reopen.js";
import { resultSections } from "/static/pages/segment-results.js";

const form = document.getElementById("segment-form");
const resourceSelect = document.getElementById("resource");
const versionSelect = document.getElementById("version");
const photosInput = document.getElementById("photos");
const dropzone = document.getElementById("dropzone");
const promptArea = document.getElementById("prompt-area");
const progress = document.getElementById("progress");
const results = document.getElementById("results");
const byId = (id) => document.getElementById(id);
const AUTO_FIELDS = [
  ["points_per_side", "points-per-side"],
  ["pred_iou_thresh", "pred-iou-thresh"],
  ["stability_score_thresh", "stability-score-thresh"],
  ["min_mask_region_area", "min-mask-region-area"],
];
let photos = [];
const uploaded = new WeakMap(); // File → upload id: a refinement resubmits without uploading again
const prompt = promptEditor({
  canvas: byId("prompt-canvas"), summary: byId("prompt-summary"), foreground: byId("label-foreground"),
  background: byId("label-background"), undo: byId("undo-prompt"), clear: byId("clear-prompts"),
  onChange: () => live.changed(),
});
const live = liveDecoder({ canvas: byId("prompt-canvas"), overlay: byId("mask-canvas"), status: byId("decode-status"), prompt });

/** In prompt mode with a photo and a version chosen, get live masks ready for them (else stop them). */
function prepareLive() {
  if (form.mode.value !== "prompt" || !photos.length || !resourceSelect.value || !versionSelect.value) return live.stop();
  const first = photos[0];
  live.prepare(resourceSelect.value, Number(versionSelect.value), async () => (await uploadIds([first]))[0]);
}

async function loadResources() {
  const resources = (await api("/resources?limit=500")).filter((r) => r.kind === "segmenter.sam" && r.latest_version);
  if (!resources.length) {
    byId("segment").prepend(el("p", { class: "notice" }, "No SAM model you may use has a version yet. ",
      el("a", { href: "/explore" }, "Explore"), " the models, or ", el("a", { href: "/provide" }, "provide one"), "."));
    return;
  }
  resourceSelect.replaceChildren(...resources.map((r) => el("option", { value: r.name, disabled: !r.permissions.includes("use") },
    `${r.title} (${r.name})${r.permissions.includes("use") ? "" : " — ask for access"}`)));
  const wanted = param("resource");
  if (wanted) resourceSelect.value = wanted;
  await loadVersions();
}

async function loadVersions() {
  const versions = await api(`/resources/${resourceSelect.value}/versions`);
  versionSelect.replaceChildren(...versions.slice().reverse().map((v) => el("option", { value: v.version }, `v${v.version} · ${v.digest.slice(7, 19)}`)));
  prepareLive();
}

function setPhotos(files, keptPrompt) {
  photos = [...files].filter((f) => f.type.startsWith("image/") || /\.(png|jpe?g|tiff?|bmp|webp)$/i.test(f.name));
  prompt.setPhoto(photos[0], keptPrompt);
  prepareLive();
}

function showMode() {
  promptArea.hidden = form.mode.value !== "prompt";
  prompt.draw();
  prepareLive();
}

for (const radio of form.querySelectorAll("input[name=mode]")) radio.addEventListener("change", showMode);
photosInput.addEventListener("change", () => setPhotos(photosInput.files));
dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => { event.preventDefault(); dropzone.classList.remove("over"); setPhotos(event.dataTransfer.files); });
resourceSelect.addEventListener("change", () => guarded(loadVersions));
versionSelect.addEventListener("change", prepareLive);

function showProgress(task, left) {
  progress.hidden = false;
  const estimate = left(task);
  progress.replaceChildren(...[
    el("p", {}, "Task ", el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)), " · ",
      el("span", { id: "task-status", class: `status ${task.status}` }, task.status),
      estimate ? el("span", { id: "time-left" }, ` · ${estimate}`) : null),
    el("progress", { max: 1, value: task.progress, "aria-label": "progress" }),
    stepList(task),
    task.error ? el("p", { class: "error" }, task.error) : null,
  ].filter(Boolean));
}

async function showResults(task) {
  results.replaceChildren(...(await resultSections(task, photos, retry)));
}

function retry(cutoffs) {
  byId("pred-iou-thresh").value = String(cutoffs.pred_iou_thresh);
  byId("stability-score-thresh").value = String(cutoffs.stability_score_thresh);
  byId("advanced").open = true;
  form.requestSubmit();
}

function autoParams() {
  const auto = {};
  for (const [name, id] of AUTO_FIELDS) {
    const text = byId(id).value.trim();
    if (text === "") throw new Error(`Give a value for “${byId(id).labels[0].firstChild.textContent.trim()}” in Advanced settings, or reload the page for the defaults.`);
    auto[name] = Number(text);
  }
  return auto;
}

async function uploadIds(chosen = photos) {
  const ids = [];
  for (const photo of chosen) {
    if (!uploaded.has(photo)) {
      const body = new FormData();
      body.append("file", photo, photo.name);
      // The promise is kept: live masks and Save asking at once upload the photo once.
      const sent = api("/uploads", { method: "POST", form: body }).then((upload) => upload.id);
      sent.catch(() => uploaded.delete(photo));
      uploaded.set(photo, sent);
    }
    ids.push(await uploaded.get(photo));
  }
  return ids;
}

async function submit() {
  if (!photos.length) throw new Error("Choose or drop at least one photo first.");
  const outputs = [...form.querySelectorAll("input[name=output]:checked")].map((box) => box.value);
  if (!outputs.length) throw new Error("Tick at least one output: hard masks, blended masks or JSON.");
  const mode = form.mode.value;
  if (mode === "prompt" && prompt.empty()) throw new Error("Click a point or drag a box on the photo first.");
  const drawn = prompt.params();
  // The same choice of SAM's masks as the live preview's decoder makes (one point or one box alone: the best of three),
  // by the same graph: the `fast` engine runs the preview's decoder.onnx in ONNX Runtime, so the saved mask is the one shown.
  const promptParams = { ...drawn, multimask: multimaskFor(drawn.points, drawn.boxes), engine: "fast" };
  const params = { mode, outputs, ...(mode === "prompt" ? { prompt: promptParams } : { auto: autoParams() }) };
  const run = byId("run");
  run.disabled = true;
  results.replaceChildren();
  progress.replaceChildren();
  progress.hidden = true;
  try {
    const inputs = await uploadIds();
    let task = await api("/tasks", { method: "POST", json: { resource: resourceSelect.value, version: Number(versionSelect.value), inputs, params } });
    const left = timeLeft();
    showProgress(task, left);
    task = (await followTask(task.id, (name, data) => { if (name === "task") showProgress(data, left); })) || task;
    if (task.status === "succeeded") await showResults(await api(`/tasks/${task.id}`));
  } finally {
    run.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(submit);
});

/** Put a finished task's model, settings, photos and prompts back in the form, and show its results. */
async function reopen(taskId) {
  const { task, photos: found } = await loadTask(taskId);
  if (task.resource && [...resourceSelect.options].some((o) => o.value === task.resource)) {
    resourceSelect.value = task.resource;
    await loadVersions();
    if (task.version) versionSelect.value = String(task.version);
  }
  const params = task.params || {};
  for (const [name, id] of AUTO_FIELDS) if (params.auto && params.auto[name] !== undefined) byId(id).value = String(params.auto[name]);
  for (const box of form.querySelectorAll("input[name=output]")) box.checked = (params.outputs || []).includes(box.value);
  form.mode.value = params.mode === "prompt" ? "prompt" : "auto";
  for (const { file, upload } of found) uploaded.set(file, upload);
  setPhotos(found.map((p) => p.file), params.mode === "prompt" ? params.prompt : null);
  showMode();
  const notice = byId("reopened");
  notice.replaceChildren(...reopenedNotice(task, found));
  notice.hidden = false;
  await showResults(task);
}

guarded(async () => {
  if (!(await requireUser(byId("segment")))) return;
  await loadResources();
  const taskId = param("task");
  if (taskId) await reopen(taskId).catch(showError);
});
