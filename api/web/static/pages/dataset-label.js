// The photo grid of the dataset page, made for labelling at speed (Label Studio and Roboflow style): one Tab
// stop (a roving tabindex), arrows move between photos, number keys 1..9 label the focused photo (or the
// selection) with the class of that rank and move on, 0 or Backspace unlabels; click, Shift-click, Ctrl-click or
// Space select many. Labels are shown at once and sent in the background (see dataset-label-queue.js).

import { el, guarded, showError } from "/static/api.js";
import { LabelQueue } from "/static/pages/dataset-label-queue.js";

const MOVES = { ArrowRight: 1, ArrowLeft: -1 };

/**
 * `options`: base (the dataset's API path), classes() (the classes in order), editable() (may label),
 * keeps(label) (whether a photo so labelled stays in the current view), changed(before, after) (a photo's
 * class changed: update the counts), emptied() (the view has no photo left), resync() (a save failed).
 */
export class PhotoGrid {
  constructor(options) {
    this.options = options;
    this.queue = new LabelQueue(options.base);
    this.items = new Map(); // item id → item
    this.current = null; // the figure that holds the grid's Tab stop
    this.anchor = null; // where a Shift selection starts
    this.version = 0; // counts the labels given here: a photo list fetched meanwhile may be stale
    this.onSelection = () => {};
    this.status = el("p", { id: "label-status", class: "hint", "aria-live": "polite" });
    this.root = el("div", { id: "items", class: "images photo-grid", role: "listbox", "aria-multiselectable": "true",
      "aria-label": "Photos", "aria-describedby": "label-keys" });
    this.root.addEventListener("keydown", (event) => this.#key(event));
    this.root.addEventListener("click", (event) => this.#click(event));
    this.root.addEventListener("focusin", (event) => {
      const figure = event.target.closest("figure[role=option]");
      if (figure) this.#setCurrent(figure);
    });
  }

  /** Show `items`; the grid keeps the focus if it had it. */
  show(items, empty) {
    const hadFocus = this.root.contains(document.activeElement);
    this.items = new Map(items.map((item) => [item.id, item]));
    this.root.replaceChildren(...(items.length ? items.map((item) => this.#figure(item)) : [empty]));
    this.current = null;
    this.anchor = null;
    const first = this.figures()[0];
    if (first) this.#setCurrent(first);
    if (first && hadFocus) first.focus();
    this.onSelection();
  }

  /** Give the focus to the photo that holds the Tab stop (the first one at first). */
  focus() {
    if (this.current) this.current.focus();
  }

  figures() {
    return [...this.root.querySelectorAll("figure[role=option]")];
  }

  selected() {
    return this.figures().filter((figure) => figure.getAttribute("aria-selected") === "true");
  }

  select(figures, on = true) {
    for (const figure of figures) figure.setAttribute("aria-selected", String(on));
    this.onSelection();
  }

  /** Label the selection, or the focused photo when nothing is selected; `null` unlabels. */
  label(name) {
    if (!this.options.editable()) return;
    const chosen = this.selected();
    const targets = chosen.length ? chosen : this.current ? [this.current] : [];
    if (!targets.length) return;
    const figures = this.figures();
    const after = figures.slice(figures.indexOf(targets[targets.length - 1]) + 1);
    const leaving = new Set();
    for (const figure of targets) {
      if (this.#apply(figure, name)) leaving.add(figure);
    }
    this.select(targets, false);
    // Focus moves on: to the photo after the last one labelled that is still shown, else the last one shown.
    const stay = chosen.length ? (leaving.has(this.current) ? null : this.current) : null;
    const next = stay || after.find((figure) => !leaving.has(figure)) ||
      figures.filter((figure) => !leaving.has(figure)).pop();
    const hadFocus = this.root.contains(document.activeElement);
    for (const figure of leaving) figure.remove();
    if (next) {
      this.#setCurrent(next);
      if (hadFocus) next.focus();
    } else {
      this.current = null;
      this.options.emptied();
    }
    this.onSelection();
  }

  /** Resolves once every label is saved. */
  drained() {
    return this.queue.drained();
  }

  /** Show `name` on the photo, count it, send it; whether the photo leaves the current view. */
  #apply(figure, name) {
    const item = this.items.get(figure.dataset.item);
    const before = item.class ?? null;
    if (before === name) return !this.options.keeps(name);
    item.class = name;
    this.version += 1;
    this.#caption(figure, item);
    this.options.changed(before, name);
    this.status.textContent = "Saving…";
    this.queue.send(item.id, name).catch((error) => {
      this.status.textContent = "";
      showError(new Error(`${item.original_name} was not labelled: ${error.message}`));
      this.queue.drained().then(() => guarded(() => this.options.resync()));
    });
    this.queue.drained().then(() => {
      if (this.status.textContent === "Saving…") this.status.textContent = "All labels saved.";
    });
    return !this.options.keeps(name);
  }

  #figure(item) {
    const figure = el("figure", { role: "option", tabindex: "-1", "aria-selected": "false", "data-item": item.id },
      item.url ? el("img", { src: item.url, alt: "", width: item.width, height: item.height, loading: "lazy" }) : null,
      el("figcaption", {}));
    this.#caption(figure, item);
    return figure;
  }

  #caption(figure, item) {
    const label = item.class ?? "unlabelled";
    figure.classList.toggle("unlabelled", !item.class);
    figure.setAttribute("aria-label", `${item.original_name}: ${label}`);
    figure.querySelector("figcaption").replaceChildren(
      el("span", { class: "item-class" }, label), " ", item.original_name, ` · ${item.width}×${item.height}`);
  }

  #setCurrent(figure) {
    if (this.current && this.current !== figure) this.current.setAttribute("tabindex", "-1");
    this.current = figure;
    figure.setAttribute("tabindex", "0");
  }

  #move(figure, extend) {
    if (!figure) return;
    if (extend) this.#selectRange(this.anchor || this.current, figure);
    else this.anchor = figure;
    this.#setCurrent(figure);
    figure.focus();
  }

  #selectRange(from, to) {
    const figures = this.figures();
    const [start, end] = [figures.indexOf(from), figures.indexOf(to)].sort((a, b) => a - b);
    this.select(figures.slice(start, end + 1));
  }

  #columns(figures) {
    const top = figures[0].offsetTop;
    return Math.max(1, figures.filter((figure) => figure.offsetTop === top).length);
  }

  #key(event) {
    if (event.altKey || !this.current || event.target.closest("figure[role=option]") === null) return;
    const figures = this.figures();
    const at = figures.indexOf(this.current);
    const command = event.ctrlKey || event.metaKey;
    let handled = true;
    if (event.key in MOVES && !command) this.#move(figures[at + MOVES[event.key]], event.shiftKey);
    else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && !command) {
      const step = this.#columns(figures) * (event.key === "ArrowDown" ? 1 : -1);
      this.#move(figures[at + step], event.shiftKey);
    } else if (event.key === "Home" && !command) this.#move(figures[0], event.shiftKey);
    else if (event.key === "End" && !command) this.#move(figures[figures.length - 1], event.shiftKey);
    else if (event.key === " " && !command) {
      this.anchor = this.current;
      this.select([this.current], this.current.getAttribute("aria-selected") !== "true");
    } else if (event.key.toLowerCase() === "a" && command) this.select(figures);
    else if (event.key === "Escape") this.select(figures, false);
    else if (/^[1-9]$/.test(event.key) && !command) {
      const chosen = this.options.classes()[Number(event.key) - 1];
      if (chosen) this.label(chosen.name);
    } else if ((event.key === "0" || event.key === "Backspace") && !command) this.label(null);
    else handled = false;
    if (handled) event.preventDefault();
  }

  #click(event) {
    const figure = event.target.closest("figure[role=option]");
    if (!figure) return;
    if (event.shiftKey && this.anchor) this.#selectRange(this.anchor, figure);
    else {
      this.anchor = figure;
      this.select([figure], figure.getAttribute("aria-selected") !== "true");
    }
    this.#setCurrent(figure);
    figure.focus();
  }
}
