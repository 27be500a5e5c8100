// Above the photo grid: one button per class (with its key and its count) that labels the selected photos,
// "Unlabel", "Select all shown", "Clear selection", and how many photos are selected.

import { el } from "/static/api.js";

function keyHint(key) {
  return el("kbd", { class: "key-hint", "aria-hidden": "true" }, key);
}

/** The bar for `grid` (a PhotoGrid); `editable()`: whether the user may label. Returns {node, render}. */
export function labelBar(grid, classes, editable) {
  const chips = el("div", { class: "row label-chips", id: "label-chips", role: "group", "aria-label": "Label the selected photos as" });
  const count = el("span", { id: "selected-count", class: "hint", "aria-live": "polite" });
  const selectAll = el("button", { type: "button", class: "secondary", id: "select-all",
    onclick: () => { grid.select(grid.figures()); grid.focus(); } }, "Select all shown");
  const clear = el("button", { type: "button", class: "secondary", id: "clear-selection",
    onclick: () => { grid.select(grid.figures(), false); grid.focus(); } }, "Clear selection");
  const keys = el("p", { class: "hint", id: "label-keys" });
  const keysText = () => editable()
    ? "Keys: 1–9 label the focused photo with the class of that number and move on; 0 or Backspace unlabels; " +
      "arrows move; Space, Shift+arrows or Ctrl+A select; a number then labels every selected photo. " +
      "Click photos to select them, Shift-click for a range."
    : "Arrows move between photos.";

  function chip(key, name, text, total) {
    return el("button", { type: "button", class: "secondary chip", "data-class": name ?? "", "aria-keyshortcuts": key,
      onclick: () => { grid.label(name); grid.focus(); } },
      keyHint(key), ` ${text}`, total === undefined ? "" : el("span", { class: "chip-count" }, ` ${total}`));
  }

  function render() {
    const chosen = grid.selected().length;
    count.textContent = chosen ? `${chosen} selected` : "";
    clear.disabled = !chosen;
    keys.textContent = keysText();
    if (!editable()) return chips.replaceChildren();
    const list = classes();
    const buttons = list.slice(0, 9).map((c, index) => chip(String(index + 1), c.name, c.name, c.item_count));
    const rest = list.slice(9).map((c) => el("button", { type: "button", class: "secondary chip", "data-class": c.name,
      onclick: () => { grid.label(c.name); grid.focus(); } }, c.name, el("span", { class: "chip-count" }, ` ${c.item_count}`)));
    const focused = chips.contains(document.activeElement) ? document.activeElement.dataset.class : undefined;
    chips.replaceChildren(...buttons, ...rest, chip("0", null, "Unlabel"));
    for (const button of chips.querySelectorAll("button")) button.disabled = !chosen;
    if (focused !== undefined) {
      const again = chips.querySelector(`button[data-class="${CSS.escape(focused)}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  // After a button here the focus goes back to the photos, so that a number key labels at once.
  grid.onSelection = render;
  const node = el("div", { id: "label-bar" },
    keys,
    chips,
    el("div", { class: "row" }, selectAll, clear, count));
  return { node, render };
}
