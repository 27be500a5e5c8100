// Inspect: one photo through a ResNet classifier version, unit by unit. The model graph (graph.json) is
// drawn as SVG with a layered top-to-bottom layout; choosing a node selects its unit, whose statistics,
// histogram and feature maps (inspect.json, maps/*.png) show in the side panel. For an INT8 version the
// task also wrote float/inspect.json (a float/INT8 toggle) and cross.json (what quantizing each unit costs).
import { api, dropTarget, el, followTask, guarded, param, requireUser, stepList } from "/static/api.js";
import { count, drawGraph, layout, number, shapeText } from "/static/pages/inspect-graph.js";
import { PRECISION_NAMES, crossSection, featureMaps, histogram, statsTable } from "/static/pages/inspect-panels.js";

const root = document.getElementById("inspect");
const ACTIVE = ["pending", "scheduled", "running"];
const PARAMS = { max_maps: 16, histogram_bins: 32 };

/** Read a task output (a presigned object-store URL) as JSON, with a readable error. */
async function outputJson(outputs, name) {
  const found = outputs.get(name);
  if (!found) throw new Error(`The task wrote no ${name}; run the inspection again.`);
  let response;
  try {
    response = await fetch(found.url);
  } catch (error) {
    throw new Error(`Could not read ${name} from the object store (${error.message}); reload the page to try again.`);
  }
  if (!response.ok) throw new Error(`Could not read ${name} from the object store (HTTP ${response.status}); reload the page to get fresh links.`);
  return response.json();
}

async function showResult(task, slot) {
  const outputs = new Map(task.outputs.map((o) => [o.name, o]));
  const [graph, own, float, cross] = await Promise.all([
    outputJson(outputs, "graph.json"),
    outputJson(outputs, "inspect.json"),
    outputs.has("float/inspect.json") ? outputJson(outputs, "float/inspect.json") : null,
    outputs.has("cross.json") ? outputJson(outputs, "cross.json") : null,
  ]);
  const views = [{ key: own.precision, doc: own, folder: "" }];
  if (float && own.precision !== "float") views.push({ key: "float", doc: float, folder: "float/" });
  let shown = views[0];
  let logScale = false;
  let unit = graph.units.find((name) => own.layers.some((r) => r.name === name)) ?? own.layers[0].name;
  const panel = el("aside", { id: "unit-panel", class: "card unit-panel", "aria-labelledby": "unit-title" });
  const status = el("p", { class: "hint", id: "unit-status", "aria-live": "polite" });
  const unitSelect = el("select", { id: "unit-select" },
    graph.units.map((name) => el("option", { value: name }, name)));

  const histogramSlot = el("div", { id: "histogram-slot" });
  const logBox = el("input", { type: "checkbox", id: "log-counts" });
  const logToggle = el("label", { for: "log-counts", class: "inline-check" }, logBox, "Counts on a log scale");

  const renderPanel = () => {
    const record = shown.doc.layers.find((r) => r.name === unit);
    const label = `${unit} (${PRECISION_NAMES[shown.doc.precision] ?? shown.doc.precision})`;
    const members = graph.nodes.filter((node) => node.unit === unit && node.op !== "input" && node.op !== "output");
    const parameters = members.reduce((sum, node) => sum + (node.parameters || 0), 0);
    if (!record) {
      panel.replaceChildren(el("h2", { id: "unit-title" }, unit), el("p", { class: "error" }, `inspect.json has no record of unit ${unit}.`));
      return;
    }
    panel.replaceChildren(
      el("h2", { id: "unit-title" }, unit, " ", el("span", { class: `precision-badge ${record.precision}` }, PRECISION_NAMES[record.precision] ?? record.precision)),
      el("p", { class: "hint" }, `${record.kind} · unit ${record.index + 1} of ${shown.doc.layers.length} · ${count(parameters)} parameters`),
      statsTable(record, shown.doc),
      el("h3", {}, "Histogram of the output"),
      logToggle,
      histogramSlot,
      el("h3", {}, "Feature maps"),
      featureMaps(record, shown.folder, outputs, label),
      cross ? crossSection(cross, unit) : null,
      el("details", {}, el("summary", {}, `${members.length} graph nodes in ${unit}`),
        el("ul", { class: "unit-nodes" }, members.map((node) =>
          el("li", {}, el("span", { class: "mono" }, node.name), ` ${node.type} → ${shapeText(node.output_shape)}`,
            node.parameters ? `, ${count(node.parameters)} parameters` : "")))));
    histogramSlot.replaceChildren(histogram(record, label, logScale));
    status.textContent = `Showing ${label}: mean ${number(record.stats.mean)}, std ${number(record.stats.std)}.`;
  };

  logBox.addEventListener("change", () => {
    logScale = logBox.checked;
    renderPanel();
  });

  let drawn;
  const select = (name, { reveal = false } = {}) => {
    unit = name;
    unitSelect.value = name;
    drawn.highlight(name);
    if (reveal) drawn.reveal(name);
    renderPanel();
  };
  drawn = drawGraph(graph, (name) => select(name));
  unitSelect.addEventListener("change", () => select(unitSelect.value, { reveal: true }));

  let toggle = null;
  if (views.length > 1) {
    const radios = views.map((view) => {
      const radio = el("input", { type: "radio", name: "precision", id: `precision-${view.key}`, value: view.key, checked: view === shown });
      radio.addEventListener("change", () => {
        if (!radio.checked) return;
        shown = view;
        renderPanel();
      });
      const text = view.folder ? "Float (the version's float weights)" : `${PRECISION_NAMES[view.key] ?? view.key} (as deployed)`;
      return el("label", { for: `precision-${view.key}` }, radio, text);
    });
    toggle = el("fieldset", { class: "toggle", id: "precision-toggle" }, el("legend", {}, "Numbers shown"), radios);
  }
  const resourceLink = el("a", { href: `/resources/${encodeURIComponent(task.resource)}` }, `${task.resource} version ${task.version}`);
  slot.replaceChildren(el("section", { class: "card", id: "inspection" },
    el("h2", {}, "Inspection of ", resourceLink),
    el("p", { id: "inspection-summary" }, `${PRECISION_NAMES[own.precision] ?? own.precision} version · input ${shapeText(own.input_shape)} · `,
      `${own.layers.length} units · ${graph.nodes.length} graph nodes · task `, el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)),
      cross ? ` · costliest unit to quantize: ${cross.sweeps.float_then_int8?.costliest.unit ?? "—"}` : ""),
    el("div", { class: "row inspect-controls" }, toggle, el("div", {}, el("label", { for: "unit-select" }, "Unit"), unitSelect)),
    status,
    el("div", { class: "inspect-layout" },
      el("div", {},
        el("div", { class: "graph-frame", id: "graph-frame" }, drawn.element),
        el("p", { class: "hint graph-legend" }, "Boxes are layers; rounded orange boxes add a block's residual connection (dashed orange). " +
          "Click a box, or Tab into the graph and use the arrow keys and Enter, to show its unit.")),
      panel)));
  select(unit);
}

// ---------------------------------------------------------------------------------------------------
// Choosing a version and a photo; running and following the task.

function progressCard(task) {
  const status = el("span", { class: `status ${task.status}`, id: "task-status" }, task.status);
  const bar = el("progress", { max: 1, value: task.progress, "aria-label": "inspection progress" });
  const steps = el("div", {}, stepList(task));
  const node = el("section", { class: "card", id: "progress", "aria-live": "polite" },
    el("p", {}, "Task ", el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)), " · status ", status), bar, steps);
  const show = (current) => {
    status.textContent = current.status;
    status.className = `status ${current.status}`;
    bar.value = current.progress;
    steps.replaceChildren(stepList(current));
  };
  return { node, show };
}

async function follow(task, progressSlot, resultSlot) {
  if (task.mode !== "inspect") {
    throw new Error(`Task ${task.id.slice(0, 8)} is a ${task.mode} task, not an inspection; open it on its task page (/tasks/${task.id}).`);
  }
  const card = progressCard(task);
  progressSlot.replaceChildren(card.node);
  resultSlot.replaceChildren();
  if (ACTIVE.includes(task.status)) {
    try {
      await followTask(task.id, (name, data) => { if (name === "task") card.show(data); });
    } catch {
      // The event stream broke (a proxy, a dropped connection): poll the task instead.
      for (let current = task; ACTIVE.includes(current.status);) {
        await new Promise((resolve) => { setTimeout(resolve, 1500); });
        current = await api(`/tasks/${encodeURIComponent(task.id)}`);
        card.show(current);
      }
    }
  }
  const final = await api(`/tasks/${encodeURIComponent(task.id)}`); // fresh output links
  card.show(final);
  if (final.status !== "succeeded") {
    throw new Error(final.error ? `The inspection failed: ${final.error}` : `The inspection ended ${final.status}; run it again.`);
  }
  resultSlot.replaceChildren(el("p", { class: "hint" }, "Loading the results…"));
  await showResult(final, resultSlot);
}

function versionText(version, latest) {
  const q = version.config && version.config.quantization;
  const kind = q ? (q.keep_float && q.keep_float.length ? `hybrid INT8, ${q.keep_float.length} units float` : `INT8, ${q.method}`) : "float";
  return `version ${version.version} · ${kind}${version.version === latest ? " (latest)" : ""}${version.config && !version.config.checkpoint ? " · untrained" : ""}`;
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  const resumed = param("task");
  const resumedTask = resumed ? await api(`/tasks/${encodeURIComponent(resumed)}`) : null;
  const resources = (await api("/resources?limit=500")).filter((r) => r.kind === "classifier.resnet" && r.latest_version !== null &&
    (r.permissions.includes("use") || r.visibility === "public"));
  const progressSlot = el("div", { id: "progress-slot" });
  const resultSlot = el("div", { id: "result" });
  if (!resources.length) {
    root.replaceChildren(el("p", { class: "notice" }, "No ResNet classifier you may use has a version yet. ",
      el("a", { href: "/explore" }, "Explore models"), " for a starter such as “ResNet-18 starter (untrained)”, ",
      el("a", { href: "/train" }, "train one"), " from it, or ", el("a", { href: "/provide" }, "provide one"),
      " (a ResNet-18 version published without files is enough)."), progressSlot, resultSlot);
    if (resumedTask) await follow(resumedTask, progressSlot, resultSlot);
    return;
  }
  const modelSelect = el("select", { id: "model", name: "model" },
    resources.map((r) => el("option", { value: r.name }, r.title ? `${r.title} (${r.name})` : r.name)));
  const versionSelect = el("select", { id: "version", name: "version" });
  const versionHint = el("p", { class: "hint", id: "version-hint", "aria-live": "polite" });
  const photoInput = el("input", { id: "photo", type: "file", accept: "image/png,image/jpeg,image/tiff,image/bmp,image/webp" });
  const preview = el("div", { id: "photo-preview", class: "photo-preview" });
  const run = el("button", { type: "submit", id: "run" }, "Inspect");
  const zone = el("div", { class: "dropzone", id: "dropzone" },
    el("p", {}, "Drop one photo here, or ", el("label", { for: "photo", class: "inline-label" }, "choose a photo:")), photoInput);
  let photo = null;
  let versions = [];

  const setPhoto = (file) => {
    if (!file) return;
    photo = file;
    preview.replaceChildren(el("figure", {}, el("img", { src: URL.createObjectURL(file), alt: `chosen photo ${file.name}` }),
      el("figcaption", {}, file.name)));
  };
  const describeVersion = () => {
    const version = versions.find((v) => String(v.version) === versionSelect.value);
    const config = (version && version.config) || {};
    versionHint.textContent = config.quantization
      ? `An INT8 version (${config.quantization.method} calibration${config.input_size ? `, ${config.input_size}×${config.input_size} px input` : ""}): ` +
        "the result also shows its float weights (a float/INT8 toggle) and what quantizing each unit costs."
      : `A float version${config.input_size ? ` (${config.input_size}×${config.input_size} px input)` : ""}; ` +
        "inspect an INT8 version (marked INT8) to compare it with its float weights.";
  };
  const loadVersions = async (wanted) => {
    const chosen = resources.find((r) => r.name === modelSelect.value);
    versions = (await api(`/resources/${encodeURIComponent(chosen.ref || chosen.name)}/versions?limit=500`)).slice().sort((a, b) => b.version - a.version);
    versionSelect.replaceChildren(...versions.map((v) => el("option", { value: String(v.version) }, versionText(v, chosen.latest_version))));
    if (wanted !== undefined && versions.some((v) => String(v.version) === String(wanted))) versionSelect.value = String(wanted);
    describeVersion();
  };
  modelSelect.addEventListener("change", () => guarded(() => loadVersions()));
  versionSelect.addEventListener("change", describeVersion);
  photoInput.addEventListener("change", () => setPhoto(photoInput.files[0]));
  dropTarget(zone, (dropped) => {
    const files = [...dropped];
    if (files.length > 1) guarded(() => { throw new Error("An inspection follows one photo; the first one dropped is used."); });
    setPhoto(files[0]);
  });

  const form = el("form", { class: "card", id: "inspect-form" },
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "model" }, "Model"), modelSelect),
      el("div", {}, el("label", { for: "version" }, "Version"), versionSelect)),
    versionHint, zone, preview, el("p", {}, run));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      if (!photo) throw new Error("Choose or drop one photo first.");
      if (!versionSelect.value) throw new Error("This model has no version to inspect; choose another model.");
      run.disabled = true;
      try {
        const body = new FormData();
        body.append("file", photo, photo.name);
        const upload = await api("/uploads", { method: "POST", form: body });
        const task = await api("/tasks", { method: "POST", json: {
          resource: modelSelect.value, version: Number(versionSelect.value), mode: "inspect", inputs: [upload.id], params: PARAMS,
        } });
        history.replaceState(null, "", `/inspect?task=${encodeURIComponent(task.id)}`);
        await follow(task, progressSlot, resultSlot);
      } finally {
        run.disabled = false;
      }
    });
  });

  root.replaceChildren(form, progressSlot, resultSlot);
  const wantedResource = resumedTask ? resumedTask.resource : param("resource");
  if (wantedResource && resources.some((r) => r.name === wantedResource)) modelSelect.value = wantedResource;
  await loadVersions(resumedTask ? resumedTask.version : param("version") ?? undefined);
  if (resumedTask) await follow(resumedTask, progressSlot, resultSlot);
});
