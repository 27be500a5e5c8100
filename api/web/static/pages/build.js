// The Build page: a palette of blocks, the stack they form with the shape after each, a side panel for the
// selected block's parameters; the server validates every change (POST /blocks/validate) and the valid
// stack is saved as an architecture-only version of a "classifier.blocks" model, ready for the Train page.

import { ApiError, api, el, guarded, inlineField, param, requireUser, showError } from "/static/api.js";
import { SLUG, blockConfig, blockFromConfig, inferShape, newBlock, shapeText, slugify } from "/static/pages/build-blocks.js";
import { markPanel, renderPanel } from "/static/pages/build-panel.js";
import { createPalette, createStack } from "/static/pages/build-stack.js";

const root = document.getElementById("build");
const KIND = "classifier.blocks";
const DEBOUNCE_MS = 250;

/** 1_234_567 bytes → "1.2 MB" (decimal units); large counts in GB. */
function megabytes(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  const [{ blocks: entries }, datasets] = await Promise.all([api("/blocks/catalog"), api("/datasets?limit=200")]);
  const catalog = new Map(entries.map((entry) => [entry.type, entry]));
  let nextId = 1;
  const state = { blocks: [], selected: null, validation: null, stale: false, classes: null, savedName: null };
  const withId = (block) => ({ ...block, id: `b${nextId++}` });

  // The model's name, title, input and classes.
  const title = el("input", { id: "title", name: "title", type: "text", maxlength: 200, size: 32, autocomplete: "off" });
  const name = el("input", { id: "name", name: "name", type: "text", maxlength: 64, size: 28, required: true, autocomplete: "off",
    pattern: SLUG.source.slice(1, -1), spellcheck: "false" });
  let nameEdited = false;
  name.addEventListener("input", () => { nameEdited = name.value.trim() !== ""; });
  title.addEventListener("input", () => { if (!nameEdited) name.value = slugify(title.value); });
  const channels = el("select", { id: "input-channels", name: "input_channels" },
    el("option", { value: "1" }, "1 (grayscale)"), el("option", { value: "3" }, "3 (colour)"));
  channels.value = "3";
  const size = el("input", { id: "input-size", name: "input_size", type: "number", min: 8, max: 1024, step: 1, value: "32", required: true });
  const classesFrom = el("select", { id: "classes-from", name: "classes_from" },
    el("option", { value: "" }, "none (name them when training)"),
    datasets.map((d) => el("option", { value: d.id }, `${d.name} (${d.classes.length} classes)`)));
  const classesHint = el("p", { class: "hint", id: "classes-hint", "aria-live": "polite" });
  let loadedClasses = null; // the classes of the version the page started from, if any
  const chosenDataset = () => datasets.find((d) => d.id === classesFrom.value) || null;
  const showClasses = () => {
    const dataset = chosenDataset();
    state.classes = dataset && dataset.classes.length ? [...dataset.classes] : loadedClasses;
    classesHint.textContent = state.classes
      ? `${state.classes.length} classes: ${state.classes.join(", ")}${dataset ? "" : " (from the version it started from)"}`
      : "The model's last block decides the class count; they are named when training on a dataset with as many classes.";
  };

  // The three columns.
  const palette = el("ul", { id: "palette", class: "palette", "aria-label": "Blocks to add" });
  const inputShape = el("span", { class: "shape-value", id: "input-shape" }, "?");
  const list = el("ol", { id: "stack", class: "stack", "aria-label": "Stack of blocks, first to last" });
  const zone = el("div", { class: "stack-zone", id: "stack-zone" },
    el("p", { class: "shape input-shape" }, "Input ", el("span", { "aria-hidden": "true" }, "↓ "), inputShape),
    list,
    el("p", { class: "hint stack-empty" }, "No blocks yet: click a block in the palette, or drag it here."));
  const panel = el("section", { class: "card build-panel", id: "block-panel", "aria-labelledby": "panel-title" });
  const validation = el("div", { id: "validation", class: "validation", role: "status", "aria-live": "polite" });
  const save = el("button", { type: "button", id: "save", disabled: true }, "Save version");
  const saved = el("div", { id: "saved", "aria-live": "polite" });

  const config = () => {
    const result = {
      input_channels: Number(channels.value),
      input_size: size.value.trim() === "" ? null : Number(size.value),
      blocks: state.blocks.map((block) => blockConfig(catalog.get(block.type), block)),
    };
    if (state.classes) result.classes = state.classes;
    return result;
  };

  // Validation: debounced, the latest answer wins; Save is enabled only for a valid, current answer.
  let timer = null;
  let asked = 0;
  let saving = false;
  const refreshSave = () => { save.disabled = state.stale || !state.validation || !state.validation.valid || saving; };
  const showValidation = () => {
    const result = state.validation;
    if (!state.blocks.length) {
      validation.className = "validation";
      validation.replaceChildren(el("p", { class: "hint" }, "No blocks yet: add some from the palette."));
      return;
    }
    if (!result) return;
    const warnings = (result.warnings || []).map((w) => el("li", { class: "warning" }, w));
    if (result.valid) {
      validation.className = "validation valid";
      const memory = result.memory
        ? ` Memory per photo: ${megabytes(result.memory.infer_bytes_per_photo)} to predict, ${megabytes(result.memory.train_bytes_per_photo)} to train.`
        : "";
      validation.replaceChildren(el("p", { id: "validation-summary" }, `Valid: output ${shapeText(result.output_shape)}, ` +
        `${result.parameters.toLocaleString("en")} parameters.${memory}`), el("ul", { hidden: !warnings.length }, warnings));
    } else {
      validation.className = "validation invalid";
      validation.replaceChildren(el("p", { id: "validation-summary" }, result.errors.length === 1 ? "1 problem:" : `${result.errors.length} problems:`),
        el("ul", { class: "validation-errors" }, result.errors.map((e) => el("li", {}, e.message))),
        el("ul", { hidden: !warnings.length }, warnings));
    }
  };
  const validate = async () => {
    const mine = ++asked;
    if (!state.blocks.length) {
      state.validation = null;
      state.stale = false;
    } else {
      let result;
      try {
        result = await api("/blocks/validate", { method: "POST", json: config() });
      } catch (error) {
        if (mine !== asked) return;
        result = { valid: false, input_shape: null, blocks: [], output_shape: null, parameters: 0, warnings: [],
          errors: [{ message: error instanceof ApiError ? error.message : `Could not validate: ${error.message}`, field: null, block: null }] };
      }
      if (mine !== asked) return;
      state.validation = result;
      state.stale = false;
    }
    showValidation();
    stack.render();
    markPanel(panel, state.validation ? state.validation.errors : [], selectedIndex() + 1);
    refreshSave();
  };
  const changed = () => {
    state.stale = true;
    refreshSave();
    clearTimeout(timer);
    timer = setTimeout(validate, DEBOUNCE_MS);
  };

  const selectedIndex = () => state.blocks.findIndex((b) => b.id === state.selected);
  const showPanel = () => {
    const index = selectedIndex();
    const block = state.blocks[index];
    renderPanel(panel, { block, number: index + 1, entry: block && catalog.get(block.type), changed: (key, value) => {
      block.params[key] = value;
      stack.render();
      changed();
    } });
    markPanel(panel, state.validation ? state.validation.errors : [], index + 1);
  };
  const actions = {
    add(type, at) {
      const index = at === null || at === undefined ? state.blocks.length : at;
      const before = inferShape(Number(channels.value), Number(size.value), state.blocks.slice(0, index));
      const block = withId(newBlock(catalog.get(type), before, state.classes ? state.classes.length : null));
      state.blocks.splice(index, 0, block);
      state.selected = block.id;
      stack.render();
      showPanel();
      changed();
    },
    move(from, to) {
      if (to < 0 || to >= state.blocks.length || from === to) return;
      const [block] = state.blocks.splice(from, 1);
      state.blocks.splice(to, 0, block);
      stack.render();
      showPanel();
      changed();
    },
    remove(index) {
      const [gone] = state.blocks.splice(index, 1);
      if (state.selected === gone.id) state.selected = null;
      const next = state.blocks[Math.min(index, state.blocks.length - 1)];
      stack.render(next ? `${next.id}:block` : null);
      if (!next) palette.querySelector("button").focus();
      showPanel();
      changed();
    },
    select(id, focusPanel) {
      state.selected = id;
      stack.render();
      showPanel();
      if (focusPanel) {
        const first = panel.querySelector("input");
        if (first) first.focus();
      }
    },
  };
  const localInput = () => inferShape(Number(channels.value), Number(size.value), []);
  const stack = createStack({ zone, list, inputShape, localInput, catalog, state, actions });
  const paletteHelp = el("p", { class: "hint palette-help", id: "palette-help" });
  createPalette(palette, entries, actions.add, paletteHelp);

  // Saving: the model (made when new) and a version holding the config, then the way to train it.
  const ensureModel = async (slug) => {
    if (state.savedName === slug) return;
    try {
      const existing = await api(`/resources/${encodeURIComponent(slug)}`);
      if (existing.kind !== KIND) throw new Error(`${slug} is a ${existing.kind} model; choose another model name.`);
      if (!existing.permissions.includes("modify")) throw new Error(`${slug} is someone else's model; choose another model name.`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      await api("/resources", { method: "POST", json: { name: slug, kind: KIND, title: title.value.trim() || slug, visibility: "private" } });
    }
    state.savedName = slug;
  };
  save.addEventListener("click", () => guarded(async () => {
    const slug = name.value.trim();
    if (!SLUG.test(slug)) {
      name.focus();
      throw new Error("Give the model a name: lowercase letters, digits and '-', not starting or ending with '-' (at most 64).");
    }
    saving = true;
    refreshSave();
    try {
      await ensureModel(slug);
      const form = new FormData();
      form.append("config", JSON.stringify(config()));
      const version = await api(`/resources/${encodeURIComponent(slug)}/versions`, { method: "POST", form });
      const query = new URLSearchParams({ resource: slug });
      if (chosenDataset()) query.set("dataset", chosenDataset().id);
      saved.replaceChildren(el("p", { class: "notice", id: "saved-note" }, "Saved ",
        el("a", { href: `/resources/${encodeURIComponent(slug)}`, id: "saved-version" }, `${slug} version ${version.version}`), ". ",
        el("a", { href: `/train?${query}`, class: "button", id: "train-link" }, "Train it")));
    } finally {
      saving = false;
      refreshSave();
    }
  }));

  // An existing blocks model to start from: /build?resource=NAME[&version=N].
  const start = param("resource");
  if (start) {
    const version = await api(`/resources/${encodeURIComponent(start)}/versions/${encodeURIComponent(param("version") || "latest")}`);
    const loaded = version.config || {};
    if (Array.isArray(loaded.blocks)) {
      state.blocks = loaded.blocks.map((b) => withId(blockFromConfig(catalog.get(b.type), b)));
      if (loaded.input_channels && ![1, 3].includes(loaded.input_channels)) {
        channels.append(el("option", { value: String(loaded.input_channels) }, `${loaded.input_channels} channels`));
      }
      if (loaded.input_channels) channels.value = String(loaded.input_channels);
      if (loaded.input_size) size.value = String(loaded.input_size);
      if (Array.isArray(loaded.classes) && loaded.classes.length) loadedClasses = loaded.classes;
      name.value = start;
      nameEdited = true;
    }
  }
  if (param("dataset") && datasets.some((d) => d.id === param("dataset"))) classesFrom.value = param("dataset");
  showClasses();

  for (const control of [channels, size]) control.addEventListener("input", changed);
  channels.addEventListener("change", changed);
  classesFrom.addEventListener("change", () => { showClasses(); changed(); });

  root.replaceChildren(
    el("section", { class: "card", id: "model-settings", "aria-label": "Model" },
      el("div", { class: "row" },
        inlineField("title", "Title", title),
        inlineField("name", "Model name", name, "(lowercase letters, digits and '-')")),
      el("div", { class: "row" },
        inlineField("input-channels", "Input channels", channels),
        inlineField("input-size", "Input size", size, "(pixels, square)"),
        inlineField("classes-from", "Classes from dataset", classesFrom)),
      classesHint),
    el("div", { class: "build-layout" },
      el("section", { class: "card build-palette", "aria-labelledby": "palette-title" },
        el("h2", { id: "palette-title" }, "Palette"),
        el("p", { class: "hint" }, "Click a block (or press Enter) to add it at the end; drag it to place it."),
        palette,
        paletteHelp),
      el("section", { class: "card build-stack", "aria-labelledby": "stack-title" },
        el("h2", { id: "stack-title" }, "Stack"),
        el("p", { class: "hint", id: "stack-keys" }, "Keys on a focused block: Alt+↑/↓ moves it, Delete removes it, Enter edits it, ↑/↓ go to the next."),
        zone,
        validation,
        el("p", { class: "row" }, save),
        saved),
      panel));
  stack.render();
  showPanel();
  showValidation();
  if (state.blocks.length) changed();
  showError(null);
});
