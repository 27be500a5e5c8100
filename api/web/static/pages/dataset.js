import { api, datasetPath, el, guarded, requireUser, showError } from "/static/api.js";
import { augmentCard, lineage } from "/static/pages/dataset-augment.js";
import { labelBar } from "/static/pages/dataset-label-bar.js";
import { uploadCard } from "/static/pages/dataset-label-upload.js";
import { PhotoGrid } from "/static/pages/dataset-label.js";
import { mountDatasetSharing } from "/static/pages/dataset-sharing.js";
import { activityCard, grantsCard, policyCard, sourcesNote } from "/static/pages/sharing.js";

const root = document.getElementById("dataset");
const datasetId = root.dataset.datasetId;
const base = datasetPath({ ref: datasetId });
const PAGE_SIZE = 24;

const state = { dataset: null, classes: [], page: 1, labelled: "", label: "" };

const counts = el("p", { id: "counts", "aria-live": "polite" });
const classList = el("ul", { id: "class-list", class: "row class-list" });
const pager = el("p", { class: "row", id: "pager" });
const uploadLabel = el("select", { id: "upload-class" });
const classFilter = el("select", { id: "filter-class" });
const labelledFilter = el("select", { id: "filter-labelled" },
  el("option", { value: "" }, "All photos"),
  el("option", { value: "false" }, "Unlabelled"),
  el("option", { value: "true" }, "Labelled"));

function canModify() {
  return Boolean(state.dataset && state.dataset.permissions.includes("modify"));
}

/** Whether a photo labelled `label` (null: unlabelled) belongs in the view the filters choose. */
function keeps(label) {
  if (state.labelled === "false" && label) return false;
  if (state.labelled === "true" && !label) return false;
  return !state.label || state.label === label;
}

const grid = new PhotoGrid({
  base,
  classes: () => state.classes,
  editable: canModify,
  keeps,
  changed: counted,
  emptied: () => guarded(async () => { await grid.drained(); await loadItems(); }),
  resync: () => reloadAll(),
});
const bar = labelBar(grid, () => state.classes, canModify);

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

/** A photo's class went from `before` to `after` (null: unlabelled): the counts follow at once. */
function counted(before, after) {
  const d = state.dataset;
  d.labelled_count += (after ? 1 : 0) - (before ? 1 : 0);
  for (const c of state.classes) {
    if (c.name !== after && c.name !== before) continue;
    c.item_count += c.name === after ? 1 : -1;
    const shown = classList.querySelector(`[data-count="${CSS.escape(c.name)}"]`);
    if (shown) shown.textContent = ` ${c.item_count} photos`;
  }
  showCounts();
  fillClassSelects();
  bar.render();
}

async function refreshDataset() {
  state.dataset = await api(base);
  // Opened by id (a task's link): show the dataset's address, owner/slug, in the location bar.
  if (location.pathname !== datasetPath(state.dataset)) history.replaceState(null, "", datasetPath(state.dataset) + location.search);
  state.classes = await api(`${base}/classes?limit=500`);
  showCounts();
}

function fillClassSelects() {
  const d = state.dataset;
  const keepUpload = uploadLabel.value;
  uploadLabel.replaceChildren(el("option", { value: "" }, "Leave unlabelled"),
    ...state.classes.map((c) => el("option", { value: c.name }, c.name)));
  uploadLabel.value = state.classes.some((c) => c.name === keepUpload) ? keepUpload : "";
  const keepFilter = classFilter.value;
  classFilter.replaceChildren(el("option", { value: "" }, "Any class"),
    ...state.classes.map((c) => el("option", { value: c.name }, `${c.name} (${c.item_count})`)));
  classFilter.value = state.classes.some((c) => c.name === keepFilter) ? keepFilter : "";
  state.label = classFilter.value;
  const [all, unlabelled, labelled] = labelledFilter.options;
  all.textContent = `All photos (${d.item_count})`;
  unlabelled.textContent = `Unlabelled (${d.item_count - d.labelled_count})`;
  labelled.textContent = `Labelled (${d.labelled_count})`;
}

function renameInput(c) {
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
  return input;
}

function renderClasses() {
  if (!state.classes.length) {
    classList.replaceChildren(el("li", { class: "hint" }, "No classes yet: add one below."));
  } else {
    classList.replaceChildren(...state.classes.map((c, index) => el("li", {},
      index < 9 && canModify() ? el("kbd", { class: "key-hint", title: `Key ${index + 1} labels with ${c.name}` }, String(index + 1)) : "",
      renameInput(c), el("span", { class: "hint", "data-count": c.name }, ` ${c.item_count} photos`))));
  }
  fillClassSelects();
  bar.render();
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

let loads = 0; // which call of loadItems answers: only the latest one shows its photos

async function loadItems() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(state.page) });
  if (state.labelled) query.set("labelled", state.labelled);
  if (state.label) query.set("class", state.label);
  grid.root.setAttribute("aria-busy", "true");
  const generation = (loads += 1);
  const version = grid.version;
  let items;
  try {
    items = await api(`${base}/items?${query}`);
  } finally {
    if (generation === loads) grid.root.removeAttribute("aria-busy");
  }
  if (generation !== loads) return undefined; // a later load (another filter, page) answers instead
  if (grid.version !== version) { // labelled while the list was on its way: it may be stale
    await grid.drained();
    return loadItems();
  }
  if (!items.length && state.page > 1) {
    state.page -= 1;
    return loadItems();
  }
  grid.show(items, el("p", { class: "hint", id: "no-items" }, "No photos match this filter."));
  const total = filterTotal();
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const previous = el("button", { type: "button", class: "secondary", id: "previous-page", disabled: state.page <= 1,
    onclick: () => guarded(async () => { state.page -= 1; await loadItems(); }) }, "Previous");
  const next = el("button", { type: "button", class: "secondary", id: "next-page", disabled: items.length < PAGE_SIZE || state.page >= pages,
    onclick: () => guarded(async () => { state.page += 1; await loadItems(); }) }, "Next");
  pager.replaceChildren(previous, el("span", { id: "page-number" }, `Page ${state.page} of ${pages}`), next);
}

async function reloadAll() {
  await grid.drained();
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

/** A second skip link, after the page's "Skip to content": the photos are two Tab presses from the top. */
function skipToPhotos() {
  const link = el("a", { class: "skip", href: "#items", id: "skip-to-photos" }, "Skip to the photos");
  link.addEventListener("click", (event) => {
    event.preventDefault();
    if (grid.current) grid.focus();
    else document.getElementById("browse").scrollIntoView();
  });
  const first = document.querySelector("a.skip");
  if (first) first.after(link);
}

function browseCard() {
  const onFilter = () => guarded(async () => {
    grid.root.setAttribute("aria-busy", "true");
    state.labelled = labelledFilter.value;
    state.label = classFilter.value;
    state.page = 1;
    await grid.drained();
    await loadItems();
  });
  labelledFilter.addEventListener("change", onFilter);
  classFilter.addEventListener("change", onFilter);
  const refresh = el("button", { type: "button", class: "secondary", id: "refresh-items",
    onclick: () => guarded(async () => { showError(null); await reloadAll(); }) }, "Refresh");
  return el("section", { class: "card", id: "browse" },
    el("h2", {}, "Photos"),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "filter-labelled" }, "Show"), labelledFilter),
      el("div", {}, el("label", { for: "filter-class" }, "Class"), classFilter),
      refresh),
    bar.node,
    grid.root,
    grid.status,
    pager);
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  await refreshDataset();
  document.querySelector("h1").textContent = state.dataset.name;
  document.title = `${state.dataset.name} · Model Commons`;
  root.replaceChildren(
    state.dataset.description ? el("p", {}, state.dataset.description) : "",
    counts,
    lineage(state.dataset) || "",
    sourcesNote(state.dataset) || "",
    el("p", {}, el("a", { href: `/train?dataset=${encodeURIComponent(datasetId)}` }, "Train a classifier on this dataset"),
      " · ", el("a", { href: "/datasets" }, "all datasets")),
    el("section", { class: "card", id: "classes" },
      el("h2", {}, "Classes"),
      el("p", { class: "hint" }, "Type in a class's box and press Enter to rename it.",
        canModify() ? " The number before a class is its labelling key." : ""),
      classList,
      canModify() ? classForm() : null),
    canModify() ? uploadCard(base, uploadLabel, reloadAll) : el("p", { class: "notice" }, "You may look at this dataset but not change it."),
    state.dataset.item_count && state.dataset.permissions.includes("use") ? augmentCard(state.dataset) : "",
    browseCard(),
  );
  skipToPhotos();
  renderClasses();
  await loadItems();
  await mountDatasetSharing(root, state.dataset, { onDecided: renderSharing });
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
