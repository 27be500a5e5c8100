// The Build page's stack: the ordered list of blocks with the shape after each, reordered by drag and drop,
// by the per-block buttons or by keyboard (Alt+ArrowUp/Down moves, Delete removes, Enter edits,
// ArrowUp/Down/Home/End move the focus), and the palette whose blocks are added by click or dragged in.

import { el } from "/static/api.js";
import { shapeText, summary } from "/static/pages/build-blocks.js";

const DRAG_TYPE = "text/plain";

/**
 * The stack view. `state` holds {blocks: [{id, type, params}], selected: id|null, validation, stale};
 * `actions` has add(type, index), move(from, to), remove(index) and select(id), each of which changes
 * `state` and calls render(); localInput() is the input shape the page's settings give.
 */
export function createStack({ zone, list, inputShape, localInput, catalog, state, actions }) {
  let dropIndex = null;

  const focusKey = () => {
    const active = document.activeElement;
    return active && list.contains(active) ? active.dataset.focus || null : null;
  };

  function blockItem(block, index) {
    const number = index + 1;
    const result = state.validation;
    const errors = result ? result.errors.filter((e) => e.block === number) : [];
    const known = result && result.blocks ? result.blocks.find((b) => b.index === number) : null;
    const entry = catalog.get(block.type);
    const tool = (label, text, action, disabled) =>
      el("button", { type: "button", class: "secondary tool", "aria-label": label, title: label, "data-focus": `${block.id}:${text}`, disabled,
        onclick: (event) => { event.stopPropagation(); action(); } }, text);
    const item = el("li", {
      class: ["block", block.id === state.selected ? "selected" : "", errors.length ? "invalid" : "", dropIndex === index ? "drop-before" : ""].join(" ").trim(),
      tabindex: 0, draggable: "true", "data-id": block.id, "data-type": block.type, "data-focus": `${block.id}:block`,
      "aria-label": `block ${number} ${block.type}`, "aria-current": block.id === state.selected ? "true" : null,
      "aria-invalid": errors.length ? "true" : null, "aria-describedby": `block-${block.id}-detail`,
    },
    el("div", { class: "block-head" },
      el("span", { class: "block-number", "aria-hidden": "true" }, String(number)),
      el("strong", { class: "block-type" }, block.type),
      el("span", { class: "block-tools" },
        tool(`Edit block ${number}`, "Edit", () => actions.select(block.id, true)),
        tool(`Move block ${number} up`, "↑", () => actions.move(index, index - 1), index === 0),
        tool(`Move block ${number} down`, "↓", () => actions.move(index, index + 1), index === state.blocks.length - 1),
        tool(`Remove block ${number}`, "✕", () => actions.remove(index)))),
    el("div", { id: `block-${block.id}-detail` },
      el("span", { class: "block-summary" }, summary(entry, block) || "no parameters"),
      errors.map((e) => el("span", { class: "block-error" }, e.message)),
      el("span", { class: `shape${known ? "" : " unknown"}`, title: "output shape" },
        el("span", { class: "visually-hidden" }, "gives "),
        el("span", { "aria-hidden": "true" }, "↓ "),
        el("span", { class: "shape-value" }, known ? shapeText(known.output_shape) : "?"),
        known && known.parameters ? el("span", { class: "hint" }, ` · ${known.parameters.toLocaleString("en")} parameters`) : null)));
    item.addEventListener("click", () => actions.select(block.id, false));
    item.addEventListener("keydown", (event) => onKey(event, index));
    item.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData(DRAG_TYPE, `move:${block.id}`);
      event.dataTransfer.effectAllowed = "move";
      item.classList.add("dragging");
    });
    item.addEventListener("dragend", () => { item.classList.remove("dragging"); setDrop(null); });
    return item;
  }

  function onKey(event, index) {
    if (event.target !== event.currentTarget) return; // keys in the block's buttons act as buttons
    const last = state.blocks.length - 1;
    const focusBlock = (i) => { const items = list.querySelectorAll(":scope > li"); if (items[i]) items[i].focus(); };
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      const to = event.key === "ArrowUp" ? index - 1 : index + 1;
      if (to >= 0 && to <= last) actions.move(index, to);
    } else if (event.key === "Delete" || event.key === "Backspace") {
      actions.remove(index);
    } else if (event.key === "Enter" || event.key === " ") {
      actions.select(state.blocks[index].id, true);
    } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      focusBlock(Math.min(last, Math.max(0, index + (event.key === "ArrowUp" ? -1 : 1))));
    } else if (event.key === "Home" || event.key === "End") {
      focusBlock(event.key === "Home" ? 0 : last);
    } else {
      return;
    }
    event.preventDefault();
  }

  function render(refocus) {
    const key = refocus || focusKey();
    const result = state.validation;
    inputShape.textContent = shapeText(result && result.input_shape && !state.stale ? result.input_shape : localInput());
    list.classList.toggle("stale", Boolean(state.stale));
    list.replaceChildren(...state.blocks.map(blockItem));
    zone.classList.toggle("drop-end", dropIndex === state.blocks.length);
    zone.querySelector(".stack-empty").hidden = state.blocks.length > 0;
    if (key) {
      const target = list.querySelector(`[data-focus="${CSS.escape(key)}"]`);
      if (target && !target.disabled) target.focus();
      else if (target) target.closest("li").focus();
    }
  }

  function setDrop(index) {
    if (dropIndex === index) return;
    dropIndex = index;
    list.querySelectorAll(":scope > li").forEach((item, i) => item.classList.toggle("drop-before", i === index));
    zone.classList.toggle("drop-end", index !== null && index === state.blocks.length);
  }

  function indexAt(y) {
    const items = [...list.querySelectorAll(":scope > li")];
    const at = items.findIndex((item) => { const box = item.getBoundingClientRect(); return y < box.top + box.height / 2; });
    return at < 0 ? items.length : at;
  }

  zone.addEventListener("dragover", (event) => {
    if (!event.dataTransfer.types.includes(DRAG_TYPE)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = event.dataTransfer.effectAllowed === "copy" ? "copy" : "move";
    setDrop(indexAt(event.clientY));
  });
  zone.addEventListener("dragleave", (event) => { if (!zone.contains(event.relatedTarget)) setDrop(null); });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const data = event.dataTransfer.getData(DRAG_TYPE);
    const index = indexAt(event.clientY);
    setDrop(null);
    if (data.startsWith("add:")) {
      actions.add(data.slice(4), index);
    } else if (data.startsWith("move:")) {
      const from = state.blocks.findIndex((b) => b.id === data.slice(5));
      if (from >= 0) actions.move(from, index > from ? index - 1 : index);
    }
  });

  return { render };
}

/**
 * The palette: one button per catalog type; click, Enter or Space appends it, dragging drops it in the stack.
 * Each button is described by its help (read by screen readers); the help of the button under the pointer
 * or with the focus shows in `helpBox`.
 */
export function createPalette(container, entries, add, helpBox) {
  const idle = "Point at a block or focus it to read what it does.";
  helpBox.textContent = idle;
  container.replaceChildren(...entries.map((entry) => {
    const help = `palette-help-${entry.type}`;
    const button = el("button", { type: "button", class: "palette-block secondary", draggable: "true", "aria-label": `Add ${entry.type}`,
      "aria-describedby": help, title: entry.help, "data-type": entry.type, onclick: () => add(entry.type, null) }, entry.type);
    button.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData(DRAG_TYPE, `add:${entry.type}`);
      event.dataTransfer.effectAllowed = "copy";
    });
    const show = () => { helpBox.replaceChildren(el("strong", {}, entry.type), `: ${entry.help}`); };
    button.addEventListener("focus", show);
    button.addEventListener("mouseenter", show);
    return el("li", {}, button, el("span", { class: "visually-hidden", id: help }, entry.help));
  }));
}
