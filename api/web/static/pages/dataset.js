import { api, datasetPath, el, guarded, requireUser, showError } from "/static/api.js";
import { augmentCard, lineage } from "/static/pages/dataset-augment.js";
import { activityCard, grantsCard, policyCard, sourcesNote } from "/static/pages/sharing.js";

const root = document.getElementById("dataset");
const datasetId = root.dataset.datasetId;
const base = datasetPath({ ref: datasetId });
const PAGE_SIZE = 24;

const state = { dataset: null, classes: [], page: 1, labelled: "", label: "" };

const counts = el("p", { id: "counts", "aria-live": "polite" });
const classList = el("ul", { id: "class-list", class: "row", style: "list-style:none;padding:0" });
const grid = el("div", { class: "images", id: "items", "aria-label": "photos" });
const pager = el("p", { class: "row", id: "pager" });
const uploadLabel = el("select", { id: "upload-class" });
const classFilter = el("select", { id: "filter-class" });
const labelledFilter = el("select", { id: "filter-labelled" },
  el("option", { value: "" }, "All photos"),
  el("option", { value: "false" }, "Unlabelled"),
  el("option", { value: "true" }, "Labelled"));

function canModify() {
  return state.dataset && state.dataset.permissions.includes("modify");
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function retainedNote(d) {
  if (!d.retained_items) return null;
  const photos = d.retained_items === 1 ? "1 deleted photo" : `${d.retained_items} deleted photos`;
  const verb = d.retained_items === 1 ? "is" : "are";
  return el("span", { id: "retained", class: "hint" },
    ` · ${photos} (${size(d.retained_bytes)}) ${verb} kept because tasks refer to them`);
}

function showCounts() {
  const d = state.dataset;
  counts.replaceChildren(
    el("span", { id: "item-count" }, String(d.item_count)), " photos, ",
    el("span", { id: "labelled-count" }, String(d.labelled_count)), " labelled, ",
    `${d.classes.length} classes`, d.visibility === "public" ? " · public" : " · private", ` · owner ${d.owner}`,
    retainedNote(d) || "");
}

async function refreshDataset() {
  state.dataset = await api(base);
  // Opened by id (a task's link): show the dataset's address, owner/slug, in the location bar.
  if (location.pathname !== datasetPath(state.dataset)) history.replaceState(null, "", datasetPath(state.dataset) + location.search);
  state.classes = await api(`${base}/classes?limit=500`);
  showCounts();
}

function fillClassSelects() {
  const keepUpload = uploadLabel.value;
  uploadLabel.replaceChildren(el("option", { value: "" }, "Leave unlabelled"),
    ...state.classes.map((c) => el("option", { value: c.name }, c.name)));
  uploadLabel.value = state.classes.some((c) => c.name === keepUpload) ? keepUpload : "";
  const keepFilter = classFilter.value;
  classFilter.replaceChildren(el("option", { value: "" }, "Any class"),
    ...state.classes.map((c) => el("option", { value: c.name }, `${c.name} (${c.item_count})`)));
  classFilter.value = state.classes.some((c) => c.name === keepFilter) ? keepFilter : "";
  state.label = classFilter.value;
}

function renderClasses() {
  if (!state.classes.length) {
    classList.replaceChildren(el("li", { class: "hint" }, "No classes yet: add one below."));
  } else {
    classList.replaceChildren(...state.classes.map((c) => {
      const input = el("input", { type: "text", value: c.name, "aria-label": `Rename class ${c.name}`, "data-class-id": c.id,
        readonly: !canModify() });
      input.addEventListener("keydown", (event) => {
        if (event.key !== "Enter") return;
        event.preventDefault();
        const name = input.value.trim();
        if (!name || name === c.name) return;
        guarded(async () => {
          await api(`${base}/classes/${c.id}`, { method: "PATCH", json: { name } });
          await reloadAll();
          const again = classList.querySelector(`input[data-class-id="${c.id}"]`);
          if (again) again.focus();
        });
      });
      return el("li", {}, input, el("span", { class: "hint" }, ` ${c.item_count} photos`));
    }));
  }
  fillClassSelects();
}

function itemCard(item) {
  const select = el("select", { "aria-label": `Class of ${item.original_name}`, "data-item": item.id, disabled: !canModify() },
    el("option", { value: "" }, "(unlabelled)"),
    state.classes.map((c) => el("option", { value: c.name }, c.name)));
  select.value = item.class ?? "";
  select.addEventListener("change", () => guarded(async () => {
    const updated = await api(`${base}/items/${item.id}`, { method: "PATCH", json: { class: select.value || null } });
    item.class = updated.class;
    figure.classList.toggle("unlabelled", !updated.class);
    await refreshDataset();
  }));
  const figure = el("figure", { "data-item": item.id, class: item.class ? "" : "unlabelled" },
    item.url ? el("img", { src: item.url, alt: item.original_name, width: item.width, height: item.height, loading: "lazy",
      style: "image-rendering:pixelated;max-height:10rem;object-fit:contain" }) : null,
    el("figcaption", {}, item.original_name, ` · ${item.width}×${item.height}`),
    select);
  return figure;
}

function filterTotal() {
  const d = state.dataset;
  if (state.label) {
    const found = state.classes.find((c) => c.name === state.label);
    return found ? found.item_count : 0;
  }
  if (state.labelled === "true") return d.labelled_count;
  if (state.labelled === "false") return d.item_count - d.labelled_count;
  return d.item_count;
}

async function loadItems() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(state.page) });
  if (state.labelled) query.set("labelled", state.labelled);
  if (state.label) query.set("class", state.label);
  const items = await api(`${base}/items?${query}`);
  if (!items.length && state.page > 1) {
    state.page -= 1;
    return loadItems();
  }
  grid.replaceChildren(...(items.length ? items.map(itemCard) : [el("p", { class: "hint", id: "no-items" }, "No photos match this filter.")]));
  const total = filterTotal();
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const previous = el("button", { type: "button", class: "secondary", id: "previous-page", disabled: state.page <= 1,
    onclick: () => guarded(async () => { state.page -= 1; await loadItems(); }) }, "Previous");
  const next = el("button", { type: "button", class: "secondary", id: "next-page", disabled: items.length < PAGE_SIZE || state.page >= pages,
    onclick: () => guarded(async () => { state.page += 1; await loadItems(); }) }, "Next");
  pager.replaceChildren(previous, el("span", { id: "page-number" }, `Page ${state.page} of ${pages}`), next);
}

async function reloadAll() {
  await refreshDataset();
  renderClasses();
  await loadItems();
}

function classForm() {
  const input = el("input", { id: "new-class", type: "text", maxlength: 128 });
  const form = el("form", { class: "row", id: "add-class" },
    el("div", {}, el("label", { for: "new-class" }, "New class"), input),
    el("button", { type: "submit" }, "Add class"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    guarded(async () => {
      await api(`${base}/classes`, { method: "POST", json: { name } });
      input.value = "";
      await reloadAll();
      input.focus();
    });
  });
  return form;
}

/** Run `send` with `button` disabled and `busy` in `status`; `status` is cleared if `send` fails. */
async function whileSending(button, status, busy, send) {
  button.disabled = true;
  status.textContent = busy;
  try {
    await send();
  } catch (error) {
    status.textContent = "";
    throw error;
  } finally {
    button.disabled = false;
  }
}

function uploadCard() {
  const files = el("input", { id: "photos", type: "file", multiple: true, accept: "image/png,image/jpeg,image/tiff,image/bmp,image/webp" });
  const zip = el("input", { id: "zip", type: "file", accept: ".zip,application/zip" });
  const status = el("p", { class: "hint", id: "upload-status", "aria-live": "polite" });
  const uploadPhotos = el("button", { type: "button", id: "upload-photos" }, "Upload photos");
  const importZip = el("button", { type: "button", id: "import-zip", class: "secondary" }, "Import zip");
  uploadPhotos.addEventListener("click", () => guarded(async () => {
    if (!files.files.length) throw new Error("Choose one or more photos first.");
    const form = new FormData();
    for (const file of files.files) form.append("files", file);
    if (uploadLabel.value) form.append("class", uploadLabel.value);
    await whileSending(uploadPhotos, status, `Uploading ${files.files.length} photos…`, async () => {
      const added = await api(`${base}/items`, { method: "POST", form });
      status.textContent = `Added ${added.length} photos.`;
      files.value = "";
      await reloadAll();
    });
  }));
  importZip.addEventListener("click", () => guarded(async () => {
    if (!zip.files.length) throw new Error("Choose a zip file first.");
    const form = new FormData();
    form.append("file", zip.files[0]);
    await whileSending(importZip, status, "Importing…", async () => {
      const outcome = await api(`${base}/import`, { method: "POST", form });
      status.textContent = `Added ${outcome.added} photos (${outcome.existing} already there)` +
        (outcome.classes_created.length ? `; new classes: ${outcome.classes_created.join(", ")}.` : ".");
      zip.value = "";
      await reloadAll();
    });
  }));
  return el("section", { class: "card", id: "upload" },
    el("h2", {}, "Add photos"),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "photos" }, "Photos ", el("span", { class: "hint" }, "(PNG, JPEG, TIFF, BMP or WebP; several at once)")), files),
      el("div", {}, el("label", { for: "upload-class" }, "Label them as"), uploadLabel),
      uploadPhotos),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "zip" }, "Or a zip of class folders ", el("span", { class: "hint" }, "(each top-level folder is a class)")), zip),
      importZip),
    status);
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  await refreshDataset();
  document.querySelector("h1").textContent = state.dataset.name;
  document.title = `${state.dataset.name} · Model Commons`;
  labelledFilter.addEventListener("change", () => guarded(async () => { state.labelled = labelledFilter.value; state.page = 1; await loadItems(); }));
  classFilter.addEventListener("change", () => guarded(async () => { state.label = classFilter.value; state.page = 1; await loadItems(); }));
  const refresh = el("button", { type: "button", class: "secondary", id: "refresh-items",
    onclick: () => guarded(async () => { showError(null); await reloadAll(); }) }, "Refresh");
  root.replaceChildren(
    state.dataset.description ? el("p", {}, state.dataset.description) : "",
    counts,
    lineage(state.dataset) || "",
    sourcesNote(state.dataset) || "",
    el("p", {}, el("a", { href: `/train?dataset=${encodeURIComponent(datasetId)}` }, "Train a classifier on this dataset"),
      " · ", el("a", { href: "/datasets" }, "all datasets")),
    el("section", { class: "card", id: "classes" },
      el("h2", {}, "Classes"),
      el("p", { class: "hint" }, "Type in a class's box and press Enter to rename it."),
      classList,
      canModify() ? classForm() : null),
    canModify() ? uploadCard() : el("p", { class: "notice" }, "You may look at this dataset but not change it."),
    state.dataset.item_count && state.dataset.permissions.includes("use") ? augmentCard(state.dataset) : "",
    el("section", { class: "card", id: "browse" },
      el("h2", {}, "Photos"),
      el("div", { class: "row" },
        el("div", {}, el("label", { for: "filter-labelled" }, "Show"), labelledFilter),
        el("div", {}, el("label", { for: "filter-class" }, "Class"), classFilter),
        refresh),
      grid,
      pager),
  );
  renderClasses();
  await loadItems();
  if (state.dataset.permissions.includes("own")) await renderSharing();
});

const sharing = el("div", { id: "sharing" });

async function renderSharing() {
  if (!sharing.isConnected) root.append(sharing);
  const grants = await api(`${base}/grants`);
  const reload = async () => { await refreshDataset(); await renderSharing(); };
  sharing.replaceChildren(
    grantsCard(base, state.dataset.name, grants, reload, { id: "dataset-rights" }),
    policyCard(base, state.dataset, reload),
    (await activityCard("dataset", state.dataset.id)) || "",
  );
}
