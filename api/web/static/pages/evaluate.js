import { api, dropTarget, el, followTask, guarded, param, requireUser, stepList } from "/static/api.js";

const root = document.getElementById("evaluate");
const PAGE_SIZE = 24;
const ITEM_PAGE = 200;

const percent = (value) => `${(value * 100).toFixed(1)} %`;

/** Read a task output (a presigned object-store URL) as JSON, with a readable error. */
async function outputJson(task, name) {
  const found = task.outputs.find((o) => o.name === name || o.name.endsWith(`/${name}`));
  if (!found) throw new Error(`The task wrote no ${name}.`);
  let response;
  try {
    response = await fetch(found.url);
  } catch (error) {
    throw new Error(`Could not read ${name} from the object store (${error.message}).`);
  }
  if (!response.ok) throw new Error(`Could not read ${name} from the object store (HTTP ${response.status}).`);
  return response.json();
}

/** Run a task and show its status, progress and steps in `slot`; resolves with the ended task. */
async function runTask(spec, slot, label) {
  const task = await api("/tasks", { method: "POST", json: spec });
  const status = el("span", { class: `status ${task.status}`, "data-role": "status" }, task.status);
  const progress = el("progress", { max: 1, value: task.progress, "aria-label": `${label} progress` });
  const steps = el("div", {}, stepList(task));
  slot.replaceChildren(el("p", {}, `${label}: task `, el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)), " · status ", status), progress, steps);
  const show = (current) => {
    status.textContent = current.status;
    status.className = `status ${current.status}`;
    progress.value = current.progress;
    steps.replaceChildren(stepList(current));
  };
  const ended = (await followTask(task.id, (name, data) => { if (name === "task") show(data); })) || (await api(`/tasks/${task.id}`));
  const final = ended.outputs && ended.status === "succeeded" && !ended.outputs.length ? await api(`/tasks/${task.id}`) : ended;
  show(final);
  if (final.status !== "succeeded") throw new Error(final.error || `The ${label.toLowerCase()} task ended ${final.status}.`);
  return final;
}

function confusionTable(metrics) {
  const classes = metrics.classes;
  return el("div", { class: "table-wrap" }, el("table", { id: "confusion" },
    el("caption", { class: "hint", style: "caption-side:top;text-align:left" }, "Rows: true class · columns: predicted class"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "true \\ predicted"), classes.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, metrics.confusion_matrix.map((row, i) => el("tr", {},
      el("th", { scope: "row" }, classes[i]),
      row.map((count, j) => el("td", { class: i === j ? "" : count ? "wrong" : "", style: i === j ? "font-weight:700" : "" }, String(count))))))));
}

function perClassTable(metrics) {
  return el("div", { class: "table-wrap" }, el("table", { id: "per-class" },
    el("thead", {}, el("tr", {}, ["Class", "Precision", "Recall", "F1", "Photos"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, Object.entries(metrics.per_class).map(([name, row]) => el("tr", {},
      el("th", { scope: "row" }, name), el("td", {}, percent(row.precision)), el("td", {}, percent(row.recall)),
      el("td", {}, row.f1.toFixed(3)), el("td", {}, String(row.support)))))));
}

/** The test photos, wrong ones first, a page at a time; thumbnails found in the dataset's item pages. */
function predictionGrid(datasetId, body) {
  const urls = new Map();
  let itemPage = 0;
  let exhausted = false;
  const grid = el("div", { class: "images", id: "predictions" });
  const pager = el("p", { class: "row" });
  let page = 1;
  const pages = Math.max(1, Math.ceil(body.predictions.length / PAGE_SIZE));

  async function findUrls(ids) {
    while (!exhausted && ids.some((id) => !urls.has(id))) {
      itemPage += 1;
      const items = await api(`/datasets/${encodeURIComponent(datasetId)}/items?limit=${ITEM_PAGE}&page=${itemPage}`);
      for (const item of items) urls.set(item.id, item.url);
      if (items.length < ITEM_PAGE) exhausted = true;
    }
  }

  async function show() {
    const rows = body.predictions.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    await findUrls(rows.map((r) => r.item));
    grid.replaceChildren(...rows.map((row) => {
      const url = urls.get(row.item);
      const ranked = Object.entries(row.probabilities).sort((a, b) => b[1] - a[1]);
      return el("figure", { class: row.correct ? "right" : "wrong", "data-item": row.item },
        url ? el("img", { src: url, alt: row.name, loading: "lazy", style: "image-rendering:pixelated;max-height:8rem;object-fit:contain" })
          : el("p", { class: "hint" }, "(photo no longer in the dataset)"),
        el("figcaption", {},
          el("strong", {}, row.correct ? "✓ " : "✗ ", `predicted ${row.predicted}`), ` · true ${row.true}`, el("br"), row.name),
        el("ul", { class: "hint", style: "margin:.2rem 0;padding-left:1.1rem" },
          ranked.map(([name, p]) => el("li", {}, `${name}: ${percent(p)}`))));
    }));
    pager.replaceChildren(
      el("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => guarded(async () => { page -= 1; await show(); }) }, "Previous"),
      el("span", {}, `Page ${page} of ${pages}`),
      el("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => guarded(async () => { page += 1; await show(); }) }, "Next"));
  }
  return { node: el("div", {}, grid, pager), show };
}

async function showEvaluation(task, datasetId, slot) {
  const [metrics, predictions] = await Promise.all([outputJson(task, "metrics.json"), outputJson(task, "predictions.json")]);
  const confusionPng = task.outputs.find((o) => o.name.endsWith("confusion.png"));
  const grid = predictionGrid(datasetId, predictions);
  slot.replaceChildren(el("section", { class: "card", id: "evaluation" },
    el("h2", {}, "Result"),
    el("p", { id: "accuracy", style: "font-size:1.2rem" }, "Accuracy ", el("strong", {}, percent(metrics.accuracy)),
      ` · right `, el("strong", { id: "right" }, String(metrics.right)), ` · wrong `, el("strong", { id: "wrong" }, String(metrics.wrong)),
      ` of ${metrics.count} labelled photos`,
      metrics.unlabelled_skipped ? el("span", { class: "hint" }, ` (${metrics.unlabelled_skipped} unlabelled skipped)`) : null),
    el("h3", {}, "Confusion matrix"), confusionTable(metrics),
    el("h3", {}, "Per class"), perClassTable(metrics),
    confusionPng ? el("p", {}, el("a", { href: confusionPng.url }, "confusion.png")) : null,
    el("h3", {}, "Test photos, wrong ones first"), grid.node));
  await grid.show();
}

function predictCard(choice) {
  const input = el("input", { id: "photo", type: "file", accept: "image/png,image/jpeg,image/tiff,image/bmp,image/webp" });
  const zone = el("div", { class: "dropzone", id: "dropzone" },
    el("p", {}, "Drop a photo here, or "), el("label", { for: "photo", style: "display:inline" }, "choose a photo: "), input);
  const preview = el("div", { id: "predict-preview" });
  const slot = el("div", { id: "predict-task" });
  const result = el("div", { id: "prediction", "aria-live": "polite" });
  const predict = (file) => guarded(async () => {
    if (!file) return;
    const { resource, version } = choice();
    result.replaceChildren();
    preview.replaceChildren(el("img", { src: URL.createObjectURL(file), alt: file.name, style: "max-width:10rem;image-rendering:pixelated" }));
    const form = new FormData();
    form.append("file", file);
    const upload = await api("/uploads", { method: "POST", form });
    const task = await runTask({ resource, version, mode: "infer", inputs: [upload.id], params: { top_k: 100 } }, slot, "Prediction");
    const body = await outputJson(task, "predictions.json");
    const top = body.predictions[0].top;
    result.replaceChildren(el("p", {}, "Most likely ", el("strong", {}, top[0].label), ` (${percent(top[0].probability)})`),
      el("ol", { id: "top-classes" }, top.map((t) => el("li", {}, `${t.label}: ${percent(t.probability)}`))));
  });
  input.addEventListener("change", () => predict(input.files[0]));
  dropTarget(zone, (files) => predict(files[0]));
  return el("section", { class: "card", id: "predict" }, el("h2", {}, "Predict a new photo"), zone, preview, slot, result);
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  const [datasets, resources] = await Promise.all([api("/datasets?limit=200"), api("/resources?limit=500")]);
  const models = resources.filter((r) => r.kind === "classifier.resnet" && r.latest_version !== null &&
    (r.permissions.includes("use") || r.visibility === "public"));
  if (!models.length) {
    root.replaceChildren(el("p", { class: "notice", id: "no-models" }, "No ResNet classifier you may use yet. ",
      el("a", { href: "/explore" }, "Explore models"), " for a starter such as “ResNet-18 starter (untrained)” and ",
      el("a", { href: "/train" }, "train it"), " on a labelled dataset, or ", el("a", { href: "/provide" }, "provide one"),
      ": a ResNet-18 version published without files is enough to start training."));
    return;
  }
  const modelSelect = el("select", { id: "model" }, models.map((r) => el("option", { value: r.name }, r.name)));
  if (param("resource") && models.some((r) => r.name === param("resource"))) modelSelect.value = param("resource");
  const versionSelect = el("select", { id: "version" });
  const datasetSelect = el("select", { id: "dataset" },
    datasets.map((d) => el("option", { value: d.id }, `${d.name} (${d.labelled_count} labelled photos)`)));
  if (param("dataset") && datasets.some((d) => d.id === param("dataset"))) datasetSelect.value = param("dataset");
  let wantedVersion = param("version");
  const loadVersions = async () => {
    const chosen = models.find((r) => r.name === modelSelect.value);
    const versions = await api(`/resources/${encodeURIComponent(chosen.ref || chosen.name)}/versions?limit=500`);
    versionSelect.replaceChildren(el("option", { value: "latest" }, `latest (version ${chosen.latest_version})`),
      ...versions.map((v) => el("option", { value: String(v.version) }, `version ${v.version}` + (v.config.classes ? ` · ${v.config.classes.join(", ")}` : ""))));
    if (wantedVersion && versions.some((v) => String(v.version) === wantedVersion)) versionSelect.value = wantedVersion;
    wantedVersion = null;
  };
  modelSelect.addEventListener("change", () => guarded(loadVersions));
  const choice = () => ({ resource: modelSelect.value, version: versionSelect.value === "latest" ? "latest" : Number(versionSelect.value) });
  const run = el("button", { type: "submit", id: "run-evaluate" }, "Evaluate");
  const taskSlot = el("div", { id: "evaluate-task" });
  const resultSlot = el("div", { id: "evaluation-slot" });
  const form = el("form", { class: "card", id: "evaluate-form" },
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "model" }, "Model"), modelSelect),
      el("div", {}, el("label", { for: "version" }, "Version"), versionSelect),
      el("div", {}, el("label", { for: "dataset" }, "Dataset"), datasetSelect),
      run),
    datasets.length ? null : el("p", { class: "hint" }, "You have no dataset to evaluate on; ", el("a", { href: "/datasets" }, "create one"), "."),
    taskSlot);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      if (!datasetSelect.value) throw new Error("Choose a dataset first.");
      run.disabled = true;
      resultSlot.replaceChildren();
      try {
        const datasetId = datasetSelect.value;
        const task = await runTask({ ...choice(), mode: "evaluate", dataset: datasetId }, taskSlot, "Evaluation");
        await showEvaluation(task, datasetId, resultSlot);
      } finally {
        run.disabled = false;
      }
    });
  });
  root.replaceChildren(form, resultSlot, predictCard(choice));
  await loadVersions();
});
