import { api, dropTarget, el, followTask, guarded, param, requireUser, stepList } from "/static/api.js";
import { showResults } from "/static/pages/evaluate-results.js";
import { outputJson, trainingSplit } from "/static/pages/evaluate-split.js";

const root = document.getElementById("evaluate");
const CLASSIFIER_KINDS = ["classifier.resnet", "classifier.blocks"];

const percent = (value) => `${(value * 100).toFixed(1)} %`;

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

function predictCard(choice) {
  const input = el("input", { id: "photo", type: "file", accept: "image/png,image/jpeg,image/tiff,image/bmp,image/webp" });
  const zone = el("div", { class: "dropzone", id: "dropzone" },
    el("p", {}, "Drop a photo here, or "), el("label", { for: "photo", class: "inline-label" }, "choose a photo: "), input);
  const preview = el("div", { id: "predict-preview" });
  const slot = el("div", { id: "predict-task" });
  const result = el("div", { id: "prediction", "aria-live": "polite" });
  const predict = (file) => guarded(async () => {
    if (!file) return;
    const { resource, version } = choice();
    result.replaceChildren();
    preview.replaceChildren(el("img", { src: URL.createObjectURL(file), alt: file.name, class: "pixelated predict-photo" }));
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

const KIND_WORDS = { "classifier.resnet": "ResNet", "classifier.blocks": "from blocks" };

/** The model a link's ?resource names (owner/name, or a bare name: one's own first), or null. */
function named(models, wanted, user) {
  if (!wanted) return null;
  return models.find((r) => r.ref === wanted) || models.find((r) => r.name === wanted && r.owner === user.username) ||
    models.find((r) => r.name === wanted) || null;
}

/** Why the model a link names is not in the list, in plain words. */
function whyMissing(resources, wanted) {
  const found = resources.find((r) => r.ref === wanted || r.name === wanted);
  if (!found) return `The model “${wanted}” does not exist or is not one you may see, so it cannot be evaluated here; choose another below.`;
  if (!CLASSIFIER_KINDS.includes(found.kind)) return `“${wanted}” is a ${found.kind} model, not a classifier, so it cannot be evaluated here.`;
  if (found.latest_version === null) return `“${wanted}” has no published version yet; publish or train one, then evaluate it.`;
  return `You may see “${wanted}” but not use it; ask its owner for use access on its page, then evaluate it.`;
}

/** The "Photos to evaluate on" choices: the training dataset's validation photos first when known, then each dataset. */
function photoOptions(datasets, split) {
  const options = [];
  const trainedOn = split.dataset && datasets.find((d) => d.id === split.dataset.id);
  if (split.val && trainedOn) {
    options.push([`val:${trainedOn.id}`, `Validation photos of ${trainedOn.name} (not seen in training: ${split.val.size})`]);
  }
  for (const d of datasets) options.push([`all:${d.id}`, `All photos of ${d.name} (${d.labelled_count} labelled)`]);
  return options;
}

function splitHint(datasets, split) {
  if (split.reason) return `Which photos training saw is unknown: ${split.reason}.`;
  if (split.dataset && !datasets.some((d) => d.id === split.dataset.id)) {
    return `It was trained on “${split.dataset.name}”, a dataset you may not read now; photos of it found in another dataset are marked “seen in training”.`;
  }
  return "Photos training saw are marked “seen in training”; its validation photos measure what it learned.";
}

/** What the grid is titled and noted, honestly: which photos these are and how many training saw. */
function describeRows(rows, { validation, split, metrics }) {
  const skipped = metrics.unlabelled_skipped ? ` ${metrics.unlabelled_skipped} unlabelled photos were skipped.` : "";
  if (validation) {
    const gone = split.val.size - rows.length;
    return { title: "Validation photos (not seen in training), wrong ones first",
      note: (gone > 0 ? `${gone} of the ${split.val.size} validation photos are no longer labelled in the dataset.` : "") + skipped };
  }
  if (!split.train) return { title: "All photos, wrong ones first", note: `Which photos training saw is unknown: ${split.reason}.${skipped}` };
  const seen = rows.filter((r) => split.train.has(r.sha256)).length;
  return { title: `All photos (${seen} seen in training), wrong ones first`, note: skipped.trim() };
}

guarded(async () => {
  const user = await requireUser(root);
  if (!user) return;
  const [datasets, resources] = await Promise.all([api("/datasets?limit=200"), api("/resources?limit=500")]);
  const models = resources.filter((r) => CLASSIFIER_KINDS.includes(r.kind) && r.latest_version !== null &&
    (r.permissions.includes("use") || r.visibility === "public"));
  if (!models.length) {
    root.replaceChildren(el("p", { class: "notice", id: "no-models" }, "No classifier you may use yet. ",
      el("a", { href: "/explore" }, "Explore models"), " for a starter such as “ResNet-18 starter (untrained)” and ",
      el("a", { href: "/train" }, "train it"), " on a labelled dataset, or ", el("a", { href: "/provide" }, "provide one"), "."));
    return;
  }
  const wanted = param("resource");
  const linked = named(models, wanted, user);
  const missing = wanted && !linked ? el("p", { class: "notice", id: "model-missing", role: "status" }, whyMissing(resources, wanted)) : null;
  const modelSelect = el("select", { id: "model" }, models.map((r) =>
    el("option", { value: r.ref || r.name }, `${r.title || r.name} — ${r.ref || r.name} (${KIND_WORDS[r.kind]})`)));
  if (linked) modelSelect.value = linked.ref || linked.name;
  const versionSelect = el("select", { id: "version" });
  const photos = el("select", { id: "photos" });
  const hint = el("p", { class: "hint", id: "split-hint", "aria-live": "polite" });
  let versions = [];
  let split = { dataset: null, reason: "no version chosen yet" };
  let wantedVersion = param("version");
  let photosChosen = false;
  const chosenModel = () => models.find((r) => (r.ref || r.name) === modelSelect.value);
  const loadSplit = async () => {
    const number = versionSelect.value === "latest" ? chosenModel().latest_version : Number(versionSelect.value);
    split = await trainingSplit(versions.find((v) => v.version === number));
    const before = photos.value;
    photos.replaceChildren(...photoOptions(datasets, split).map(([value, text]) => el("option", { value }, text)));
    const linkedDataset = param("dataset") && `all:${param("dataset")}`;
    const options = [...photos.options].map((o) => o.value);
    if (photosChosen && options.includes(before)) photos.value = before;
    else if (!options[0]?.startsWith("val:") && options.includes(linkedDataset)) photos.value = linkedDataset;
    hint.textContent = splitHint(datasets, split);
  };
  const loadVersions = async () => {
    const chosen = chosenModel();
    versions = await api(`/resources/${encodeURIComponent(chosen.ref || chosen.name)}/versions?limit=500`);
    versionSelect.replaceChildren(el("option", { value: "latest" }, `latest (version ${chosen.latest_version})`),
      ...versions.map((v) => el("option", { value: String(v.version) }, `version ${v.version}` + (v.config.classes ? ` · ${v.config.classes.join(", ")}` : ""))));
    if (wantedVersion && versions.some((v) => String(v.version) === wantedVersion)) versionSelect.value = wantedVersion;
    wantedVersion = null;
    await loadSplit();
  };
  modelSelect.addEventListener("change", () => guarded(loadVersions));
  versionSelect.addEventListener("change", () => guarded(loadSplit));
  photos.addEventListener("change", () => { photosChosen = true; });
  const choice = () => ({ resource: modelSelect.value, version: versionSelect.value === "latest" ? "latest" : Number(versionSelect.value) });
  const run = el("button", { type: "submit", id: "run-evaluate" }, "Evaluate");
  const taskSlot = el("div", { id: "evaluate-task" });
  const resultSlot = el("div", { id: "evaluation-slot" });
  const form = el("form", { class: "card", id: "evaluate-form" },
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "model" }, "Model"), modelSelect),
      el("div", {}, el("label", { for: "version" }, "Version"), versionSelect),
      el("div", {}, el("label", { for: "photos" }, "Photos to evaluate on"), photos),
      run),
    hint,
    datasets.length ? null : el("p", { class: "hint" }, "You have no dataset to evaluate on; ", el("a", { href: "/datasets" }, "create one"), "."),
    taskSlot);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      if (!photos.value) throw new Error("Choose the photos to evaluate on first: you have no dataset yet.");
      const cut = photos.value.indexOf(":");
      const validation = photos.value.slice(0, cut) === "val";
      const datasetId = photos.value.slice(cut + 1);
      const used = split;
      run.disabled = true;
      resultSlot.replaceChildren();
      try {
        const task = await runTask({ ...choice(), mode: "evaluate", dataset: datasetId }, taskSlot, "Evaluation");
        const [metrics, body] = await Promise.all([outputJson(task, "metrics.json"), outputJson(task, "predictions.json")]);
        const rows = validation ? body.predictions.filter((r) => used.val.has(r.sha256)) : body.predictions;
        const dataset = datasets.find((d) => d.id === datasetId);
        const png = task.outputs.find((o) => o.name.endsWith("confusion.png"));
        await showResults(resultSlot, rows, {
          ...describeRows(rows, { validation, split: used, metrics }),
          classes: body.classes,
          datasetId,
          canModify: Boolean(dataset && dataset.permissions.includes("modify")),
          seen: used.train || null,
          links: png ? [el("a", { href: png.url }, `confusion.png (all ${metrics.count} photos)`)] : [],
        });
      } finally {
        run.disabled = false;
      }
    });
  });
  root.replaceChildren(...[missing, form, resultSlot, predictCard(choice)].filter(Boolean));
  await loadVersions();
});
