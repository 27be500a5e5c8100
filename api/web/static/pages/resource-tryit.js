// The Try it tab: one photo in, the result inline — the top classes for a classifier, the hard and blended
// masks for SAM. It uploads the photo (POST /uploads), submits an infer task on the latest version
// (POST /tasks), follows it, and reads the task's outputs.
import { api, el, followTask, guarded } from "/static/api.js";

const PHOTO_TYPES = "image/png,image/jpeg,image/tiff,image/bmp,image/webp";
const percent = (value) => `${(value * 100).toFixed(1)} %`;

/** What each kind's try-it asks for and shows; undefined for a kind with no try-it. */
function recipe(kind) {
  if (kind.startsWith("classifier.")) return { params: { top_k: 5 }, show: showClasses, what: "its five most likely classes" };
  if (kind === "segmenter.sam") {
    // A quick automatic pass (8 × 8 points); the Segment page has every setting.
    return { params: { mode: "auto", outputs: ["hard", "blended"], auto: { points_per_side: 8 } }, show: showMasks, what: "its masks" };
  }
  return undefined;
}

async function outputJson(task, name) {
  const found = task.outputs.find((o) => o.name === name || o.name.endsWith(`/${name}`));
  if (!found) throw new Error(`The task wrote no ${name}.`);
  const response = await fetch(found.url);
  if (!response.ok) throw new Error(`Could not read ${name} from the object store (HTTP ${response.status}); try again.`);
  return response.json();
}

async function showClasses(task) {
  const top = (await outputJson(task, "predictions.json")).predictions[0].top;
  return el("div", {},
    el("p", {}, "Most likely ", el("strong", {}, top[0].label), ` (${percent(top[0].probability)})`),
    el("ol", { id: "top-classes" }, top.map((t) => el("li", {}, `${t.label}: ${percent(t.probability)}`))));
}

async function showMasks(task) {
  const figures = [["hard.png", "Hard masks"], ["blended.png", "Blended masks"]].map(([name, caption]) => {
    const found = task.outputs.find((o) => o.name.endsWith(`/${name}`) || o.name === name);
    return found ? el("figure", {}, el("img", { src: found.url, alt: caption.toLowerCase(), "data-output": name }),
      el("figcaption", {}, caption)) : null;
  }).filter(Boolean);
  if (!figures.length) throw new Error("The task wrote no mask images.");
  return el("div", { class: "images", id: "try-masks" }, figures);
}

function signInNote() {
  const next = encodeURIComponent(location.pathname + "#try");
  return el("p", { class: "notice", id: "try-signin" }, "Sign in to try this model on a photo of yours: ",
    el("a", { href: `/signin?next=${next}` }, "sign in"), " or ", el("a", { href: `/signup?next=${next}` }, "sign up"),
    ", and you come back here.");
}

async function run(resource, steps, file, slot) {
  const plan = recipe(resource.kind);
  const form = new FormData();
  form.append("file", file, file.name);
  const upload = await api("/uploads", { method: "POST", form });
  const submitted = await api("/tasks", { method: "POST",
    json: { resource: resource.ref, version: "latest", mode: "infer", inputs: [upload.id], params: plan.params } });
  const status = el("span", { class: `status ${submitted.status}`, "data-role": "try-status" }, submitted.status);
  const progress = el("progress", { max: 1, value: submitted.progress, "aria-label": "Try-it progress" });
  steps.replaceChildren(el("p", {}, "Task ", el("a", { href: `/tasks/${submitted.id}` }, submitted.id.slice(0, 8)), " · ", status), progress);
  await followTask(submitted.id, (name, data) => {
    if (name !== "task") return;
    status.textContent = data.status;
    status.className = `status ${data.status}`;
    progress.value = data.progress;
  });
  const task = await api(`/tasks/${submitted.id}`);
  status.textContent = task.status;
  status.className = `status ${task.status}`;
  if (task.status !== "succeeded") throw new Error(task.error || `The task ended ${task.status}; see its page for the log.`);
  progress.value = 1;
  slot.replaceChildren(await plan.show(task));
}

function tryForm(resource) {
  const input = el("input", { id: "try-photo", type: "file", accept: PHOTO_TYPES });
  const preview = el("div", { class: "photo-preview" });
  const steps = el("div", { id: "try-task" });
  const result = el("div", { id: "try-result", "aria-live": "polite" });
  const button = el("button", { type: "submit", id: "try-run" }, "Run on this photo");
  const form = el("form", { id: "try-form" },
    el("label", { for: "try-photo" }, "Photo to try"), input,
    el("p", { class: "hint" }, `PNG, JPEG, TIFF, BMP or WebP. The latest version (v${resource.latest_version}) runs on it and shows ${recipe(resource.kind).what}.`),
    preview, el("p", {}, button), steps, result);
  input.addEventListener("change", () => {
    const file = input.files[0];
    preview.replaceChildren(file ? el("figure", {}, el("img", { src: URL.createObjectURL(file), alt: `your photo ${file.name}` })) : "");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const file = input.files[0];
      if (!file) throw new Error("Choose a photo first (the “Photo to try” field).");
      button.disabled = true;
      result.replaceChildren();
      try {
        await run(resource, steps, file, result);
      } finally {
        button.disabled = false;
      }
    });
  });
  return form;
}

/** The Try it tab's panel. */
export function tryItPanel(resource, user) {
  const panel = el("section", { "aria-label": "Try it" });
  if (!recipe(resource.kind)) {
    panel.append(el("p", { class: "notice" }, `Models of kind ${resource.kind} have no try-it box; use the API tab.`));
  } else if (!resource.latest_version) {
    panel.append(el("p", { class: "notice" }, "No version to try yet."));
  } else if (!user) {
    panel.append(signInNote());
  } else if (!resource.permissions.includes("use")) {
    panel.append(el("p", { class: "notice", id: "try-needs-use" }, "Running this model needs the use right, which you do not have: ",
      el("a", { href: "#access" }, "ask the owner for it"), "."));
  } else {
    panel.append(tryForm(resource));
  }
  return panel;
}
