import { api, el, followTask, guarded, inlineField, lineChart, param, requireUser, stepList } from "/static/api.js";
import { publishChoice } from "/static/pages/train-publish.js";

const root = document.getElementById("train");
const ACTIVE = ["pending", "scheduled", "running"];
const AUGMENTS = [
  ["rotate", "Rotate a little"],
  ["blur", "Blur"],
  ["flip", "Mirror left-right"], // resources/classifier/data.py: flip is left-right, flop top-bottom
  ["flop", "Flip upside down"],
];
const SVG_NS = "http://www.w3.org/2000/svg";
const CLASSIFIER_KINDS = ["classifier.resnet", "classifier.blocks"];

/** A resource slug: 1-64 lowercase letters, digits or '-', not starting or ending with '-'. */
export function slugify(text) {
  const slug = text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 50).replace(/-+$/, "");
  return slug || "classifier";
}

function numberInput(id, value, attributes = {}) {
  return el("input", { id, name: id, type: "number", value, ...attributes });
}

function chartSvg(id) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.classList.add("chart");
  svg.id = id;
  return svg;
}

function svgNode(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The first epoch with the highest validation accuracy so far (training keeps its weights), or null. */
export function bestEpoch(epochs) {
  let best = null;
  for (const e of epochs) {
    if (e.val_accuracy === null || e.val_accuracy === undefined) continue;
    if (best === null || e.val_accuracy > best.val_accuracy) best = e;
  }
  return best ? best.epoch : null;
}

/** Mark `mark.epoch`'s val accuracy point on the accuracy chart with a line and `mark.label`. */
function markEpoch(chart, mark) {
  const prefix = `val accuracy, epoch ${mark.epoch}:`;
  const point = [...chart.querySelectorAll('circle.point[data-series="val accuracy"]')]
    .find((c) => (c.querySelector("title")?.textContent || "").startsWith(prefix));
  if (!point) return;
  const x = Number(point.getAttribute("cx")), y = Number(point.getAttribute("cy"));
  const width = 480, top = 30, bottom = 256; // lineChart's plot area (api.js)
  const anchor = x > width - 90 ? "end" : x < 110 ? "start" : "middle";
  const labelX = anchor === "end" ? x - 10 : anchor === "start" ? x + 10 : x;
  const labelY = y - 12 >= top + 32 ? y - 12 : y + 22; // below the point near the top, clear of the legend
  const group = svgNode("g", { id: "best-epoch-mark", "data-epoch": mark.epoch });
  group.append(
    svgNode("line", { x1: x, x2: x, y1: top, y2: bottom, stroke: "#2e7d32", "stroke-dasharray": "4 3" }),
    svgNode("circle", { cx: x, cy: y, r: 7, fill: "none", stroke: "#2e7d32", "stroke-width": 2 }),
    svgNode("text", { x: labelX, y: labelY, "font-size": 12, "font-weight": 600, fill: "#2e7d32", stroke: "#fff", "stroke-width": 3, "paint-order": "stroke", "text-anchor": anchor }, mark.label));
  chart.append(group);
  chart.setAttribute("aria-label", `${chart.getAttribute("aria-label")}; ${mark.label}`);
}

/** The loss and accuracy charts; the accuracy chart marks `published` (an epoch), or when it is undefined the
 * best epoch so far; null marks nothing (a finished task from before the best epoch was kept). */
function drawCharts(lossChart, accuracyChart, epochs, published = undefined) {
  lineChart(lossChart, { title: "Loss", series: [
    { name: "train loss", color: "#1f77b4", points: epochs.map((e) => [e.epoch, e.train_loss]) },
    { name: "val loss", color: "#e6781e", points: epochs.map((e) => [e.epoch, e.val_loss]) },
  ] });
  lineChart(accuracyChart, { title: "Accuracy", yMin: 0, yMax: 1, series: [
    { name: "train accuracy", color: "#1f77b4", points: epochs.map((e) => [e.epoch, e.train_accuracy]) },
    { name: "val accuracy", color: "#e6781e", points: epochs.map((e) => [e.epoch, e.val_accuracy]) },
  ] });
  const best = published === undefined ? bestEpoch(epochs) : published;
  if (best !== null) markEpoch(accuracyChart, { epoch: best, label: `${published === undefined ? "best so far" : "published"}: epoch ${best}` });
}

/** What the finished training published: the link, which epoch, and the result's warnings. */
function publishedNotice(result, datasetId) {
  const { resource, version } = result;
  const evaluate = `/evaluate?${new URLSearchParams({ resource: result.ref || resource, version: String(version), dataset: datasetId })}`;
  const accuracy = result.best_val_accuracy;
  const which = result.best_epoch
    ? ` (epoch ${result.best_epoch}, the best by validation accuracy${accuracy === null || accuracy === undefined ? "" : `: ${(accuracy * 100).toFixed(1)} %`})`
    : " (the last epoch: there was no validation split)";
  const warnings = result.warnings || [];
  return [
    el("p", { class: "notice", id: "trained" }, "Trained and published ",
      el("a", { href: `/resources/${encodeURIComponent(resource)}`, id: "new-version" }, `${resource} version ${version}`),
      which, ". ", el("a", { href: evaluate, id: "evaluate-link", class: "button" }, "Evaluate it")),
    warnings.length ? el("ul", { class: "notice train-warnings", id: "train-warnings", role: "status" },
      warnings.map((w) => el("li", {}, `Warning: ${w}.`))) : null,
  ];
}

async function watch(task, datasetId, slot) {
  const epochs = [];
  const seen = new Set();
  const status = el("span", { class: `status ${task.status}`, id: "train-status" }, task.status);
  const progress = el("progress", { max: 1, value: task.progress, "aria-label": "progress", id: "train-progress" });
  const steps = el("div", { id: "train-steps" }, stepList(task));
  const epochText = el("p", { id: "epoch-text", "aria-live": "polite" }, "Waiting for the first epoch…");
  const lossChart = chartSvg("loss-chart");
  const accuracyChart = chartSvg("accuracy-chart");
  const stop = el("button", { type: "button", class: "danger", id: "stop-early" }, "Stop early");
  const finished = el("div", { id: "train-result" });
  stop.addEventListener("click", () => guarded(async () => {
    stop.disabled = true;
    await api(`/tasks/${task.id}/cancel`, { method: "POST" });
  }));
  drawCharts(lossChart, accuracyChart, epochs);
  slot.replaceChildren(el("section", { class: "card", id: "training" },
    el("h2", {}, "Training"),
    el("p", {}, "Task ", el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)), " · status ", status),
    progress, steps, epochText,
    el("div", { class: "grid train-charts" }, lossChart, accuracyChart),
    el("p", { class: "row" }, stop),
    finished));

  const show = (current) => {
    status.textContent = current.status;
    status.className = `status ${current.status}`;
    progress.value = current.progress;
    steps.replaceChildren(stepList(current));
    stop.hidden = !ACTIVE.includes(current.status);
    if (current.error) finished.replaceChildren(el("p", { class: "error" }, current.error));
  };
  const addEpoch = (record) => {
    if (seen.has(record.epoch)) return;
    seen.add(record.epoch);
    epochs.push(record);
    epochs.sort((a, b) => a.epoch - b.epoch);
    const percent = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)} %`);
    epochText.textContent = `Epoch ${record.epoch} of ${task.params.epochs ?? "?"}: train loss ${record.train_loss.toFixed(4)}, ` +
      `train accuracy ${percent(record.train_accuracy)}, val accuracy ${percent(record.val_accuracy)} (${record.seconds.toFixed(1)} s)`;
    drawCharts(lossChart, accuracyChart, epochs);
  };
  for (const record of await api(`/tasks/${task.id}/metrics`)) addEpoch(record);
  let last = task;
  const ended = await followTask(task.id, (name, data) => {
    if (name === "epoch") addEpoch(data);
    if (name === "task") { last = data; show(data); }
  });
  last = ended || (await api(`/tasks/${task.id}`));
  show(last);
  if (last.status === "succeeded" && last.result) {
    drawCharts(lossChart, accuracyChart, epochs, last.result.best_epoch ?? null);
    finished.replaceChildren(...publishedNotice(last.result, datasetId).filter(Boolean));
  } else if (last.status === "cancelled") {
    finished.replaceChildren(el("p", { class: "notice" }, "Stopped: nothing was published."));
  }
}

guarded(async () => {
  const user = await requireUser(root);
  if (!user) return;
  const [datasets, resources] = await Promise.all([api("/datasets?limit=200"), api("/resources?limit=500")]);
  const models = resources.filter((r) => CLASSIFIER_KINDS.includes(r.kind) && r.latest_version !== null &&
    (r.permissions.includes("use") || r.visibility === "public"));
  if (!datasets.length) {
    root.replaceChildren(el("p", { class: "notice" }, "You have no dataset yet. ", el("a", { href: "/datasets" }, "Create one"), " and label some photos first."));
    return;
  }
  if (!models.length) {
    root.replaceChildren(el("p", { class: "notice" }, "No classifier you may use is published yet. ", el("a", { href: "/explore" }, "Explore models"), " for a starter such as “ResNet-18 starter (untrained)”, or ", el("a", { href: "/provide" }, "provide one"), ": a ResNet-18 version published without files is enough to start training."));
    return;
  }
  const datasetSelect = el("select", { id: "dataset", name: "dataset" },
    datasets.map((d) => el("option", { value: d.id }, `${d.name} (${d.labelled_count} labelled photos, ${d.classes.length} classes)`)));
  // ?dataset= and ?resource= may give an id or name, or an owner/slug (owner/name) address as other pages link them.
  const wantedDataset = datasets.find((d) => param("dataset") && (d.id === param("dataset") || d.ref === param("dataset")));
  if (wantedDataset) datasetSelect.value = wantedDataset.id;
  const modelSelect = el("select", { id: "model", name: "model" },
    models.map((r) => el("option", { value: r.name }, r.title ? `${r.title} (${r.name})` : r.name)));
  const wantedModel = models.find((r) => param("resource") && (r.name === param("resource") || r.ref === param("resource")));
  if (wantedModel) modelSelect.value = wantedModel.name;
  const versionSelect = el("select", { id: "version", name: "version" });
  const sizeHint = el("p", { class: "hint", id: "size-hint", "aria-live": "polite" });
  const epochs = numberInput("epochs", "10", { min: 1, max: 1000, step: 1, required: true });
  const batch = numberInput("batch-size", "16", { min: 1, max: 1024, step: 1, required: true });
  const lr = numberInput("lr", "0.001", { min: 0, step: "any", required: true });
  const target = numberInput("target-accuracy", "0.9", { min: 0, max: 1, step: "any" });
  const valFraction = numberInput("val-fraction", "0.2", { min: 0, max: 0.9, step: "any", required: true });
  const seed = numberInput("seed", "0", { min: 0, step: 1, required: true });
  const publish = publishChoice(user, resources);
  const publishAs = publish.nameInput;
  let publishEdited = false;
  publishAs.addEventListener("input", () => { publishEdited = true; });
  const augments = AUGMENTS.map(([value, text]) => {
    const box = el("input", { type: "checkbox", id: `augment-${value}`, name: "augment", value });
    return el("label", { for: `augment-${value}`, class: "choice" }, box, text);
  });

  const proposeName = () => {
    if (publishEdited) return;
    const dataset = datasets.find((d) => d.id === datasetSelect.value);
    const suffix = Math.random().toString(36).slice(2, 6);
    publishAs.value = `${slugify(dataset ? dataset.name : "dataset")}-${slugify(modelSelect.value).slice(0, 12).replace(/-+$/, "")}-${suffix}`;
  };
  let showSize = () => {}; // the chosen version's input size and class count, set by loadVersions
  const loadVersions = async () => {
    const chosen = models.find((r) => r.name === modelSelect.value);
    publish.forSource(chosen);
    const versions = await api(`/resources/${encodeURIComponent(chosen.ref || chosen.name)}/versions?limit=500`);
    versionSelect.replaceChildren(el("option", { value: "latest" }, `latest (version ${chosen.latest_version})`),
      ...versions.map((v) => el("option", { value: String(v.version) }, `version ${v.version}`)));
    if (param("version") && versions.some((v) => String(v.version) === param("version"))) versionSelect.value = param("version");
    showSize = () => {
      const wanted = versionSelect.value === "latest" ? chosen.latest_version : Number(versionSelect.value);
      const version = versions.find((v) => v.version === wanted);
      const config = version ? version.config : {};
      const size = config.input_size ?? 224;
      const classes = (config.classes || []).length;
      const blocks = Array.isArray(config.blocks);
      const what = blocks
        ? `, ${config.input_channels ?? 3} ${config.input_channels === 1 ? "channel (grayscale)" : "channels (colour)"} for a model of ${config.blocks.length} blocks`
        : config.arch ? ` for ${config.arch}` : "";
      let text = `Photos are resized to ${size}×${size} pixels${what}` +
        (config.checkpoint ? `; training starts from its trained weights (${classes} classes).` : "; it has no trained weights yet (architecture only), so training starts from random weights.");
      const dataset = datasets.find((d) => d.id === datasetSelect.value);
      if (blocks && classes && dataset && dataset.classes.length !== classes) {
        text += ` It gives ${classes} classes but the dataset has ${dataset.classes.length}: a model built from blocks cannot be retrained` +
          ` for another number of classes, so choose a dataset with ${classes} classes or build a version whose last block gives ${dataset.classes.length}.`;
      }
      sizeHint.textContent = text;
    };
    versionSelect.onchange = showSize;
    showSize();
  };
  datasetSelect.addEventListener("change", () => { proposeName(); showSize(); });
  modelSelect.addEventListener("change", () => { proposeName(); guarded(loadVersions); });

  const start = el("button", { type: "submit", id: "start" }, "Start training");
  const slot = el("div", { id: "training-slot" });
  const form = el("form", { class: "card", id: "train-form" },
    el("div", { class: "row" },
      inlineField("dataset", "Dataset", datasetSelect),
      inlineField("model", "Model to start from", modelSelect),
      inlineField("version", "Version", versionSelect)),
    sizeHint,
    el("div", { class: "row" },
      inlineField("epochs", "Epochs", epochs),
      inlineField("batch-size", "Batch size", batch),
      inlineField("lr", "Learning rate", lr),
      inlineField("target-accuracy", "Target accuracy", target, "(stop early when reached; empty: never)"),
      inlineField("val-fraction", "Validation share", valFraction),
      inlineField("seed", "Seed", seed)),
    el("fieldset", {}, el("legend", {}, "Augmentation (training photos only)"), augments),
    publish.node,
    el("p", {}, start));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const params = {
        epochs: Number(epochs.value),
        batch_size: Number(batch.value),
        lr: Number(lr.value),
        target_accuracy: target.value.trim() === "" ? null : Number(target.value),
        val_fraction: Number(valFraction.value),
        seed: Number(seed.value),
        augment: augments.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
        publish_as: publish.value(),
      };
      start.disabled = true;
      try {
        const task = await api("/tasks", { method: "POST", json: {
          resource: modelSelect.value,
          version: versionSelect.value === "latest" ? "latest" : Number(versionSelect.value),
          mode: "train",
          dataset: datasetSelect.value,
          params,
        } });
        history.replaceState(null, "", `/train?dataset=${encodeURIComponent(datasetSelect.value)}&task=${task.id}`);
        await watch(task, datasetSelect.value, slot);
      } finally {
        start.disabled = false;
        publishEdited = false;
        proposeName();
        await publish.reload(); // a new model of theirs can now take the next training's weights as a version
      }
    });
  });
  root.replaceChildren(form, slot);
  proposeName();
  await loadVersions();
  const resume = param("task");
  if (resume) {
    const task = await api(`/tasks/${encodeURIComponent(resume)}`);
    if (task.mode === "train") await watch(task, task.dataset, slot);
  }
});
