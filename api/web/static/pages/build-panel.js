// The Build page's side panel: the selected block's parameters, one labelled input each (a number input with
// the catalog's limits, a checkbox for a boolean), its help text under it and "required" marked.

import { el } from "/static/api.js";
import { limits } from "/static/pages/build-blocks.js";

function read(parameter, input) {
  if (parameter.type === "boolean") return input.checked;
  if (input.value.trim() === "") return null;
  const value = Number(input.value);
  return Number.isFinite(value) ? value : input.value;
}

function control(parameter, value, changed) {
  const id = `param-${parameter.name}`;
  const help = `${id}-help`;
  const described = { "aria-describedby": help, "data-param": parameter.name };
  const helpLine = el("p", { class: "hint param-help", id: help }, parameter.help, limits(parameter) ? ` (${limits(parameter)})` : "");
  const required = parameter.required ? el("span", { class: "required" }, " (required)") : null;
  if (parameter.type === "boolean") {
    const box = el("input", { type: "checkbox", id, name: parameter.name, checked: Boolean(value), ...described });
    box.addEventListener("change", () => changed(parameter.name, read(parameter, box)));
    return el("div", { class: "param" }, el("label", { for: id, class: "inline-check" }, box, parameter.name, required), helpLine);
  }
  const input = el("input", {
    type: "number", id, name: parameter.name, value: value === null || value === undefined ? "" : String(value),
    step: parameter.type === "integer" ? 1 : "any", min: parameter.minimum ?? null, max: parameter.maximum ?? null,
    required: parameter.required, inputmode: parameter.type === "integer" ? "numeric" : "decimal",
    placeholder: parameter.required ? null : parameter.default === null || parameter.default === undefined ? "automatic" : String(parameter.default),
    ...described,
  });
  input.addEventListener("input", () => changed(parameter.name, read(parameter, input)));
  return el("div", { class: "param" }, el("label", { for: id }, parameter.name, required), input, helpLine);
}

/** Show `block` (number `number`, catalog `entry`) in `panel`; `changed(name, value)` on every edit. */
export function renderPanel(panel, { block, number, entry, changed }) {
  if (!block) {
    panel.replaceChildren(el("h2", { id: "panel-title" }, "Parameters"),
      el("p", { class: "hint", id: "panel-empty" }, "Choose a block in the stack (click it, or focus it and press Enter) to edit its parameters."));
    return;
  }
  const parameters = entry ? entry.parameters : [];
  panel.replaceChildren(
    el("h2", { id: "panel-title" }, `Block ${number}: ${block.type}`),
    el("p", { class: "hint", id: "panel-help" }, entry ? entry.help : "A block type the catalog does not list."),
    parameters.length
      ? el("form", { id: "block-form", "aria-labelledby": "panel-title", onsubmit: (event) => event.preventDefault() },
        parameters.map((parameter) => control(parameter, block.params[parameter.name], changed)))
      : el("p", { class: "hint" }, `${block.type} has no parameters.`));
}

// The parameter a "block N TYPE expects …, block N-1 … gives …" error is about: the one that must match the input.
const INPUT_PARAMETER = ["in_channels", "in_features", "num_features"];

function named(error) {
  const last = error.field ? error.field.split(".").pop() : "";
  if (!/^blocks\[\d+\]$/.test(last)) return [last];
  return / expects \d+ /.test(error.message) ? INPUT_PARAMETER : [];
}

/**
 * Mark the panel's inputs that the validation's errors name: field "config.blocks[i].NAME" of this block,
 * or the block's input size parameter when the error says what the block expects and what it is given.
 */
export function markPanel(panel, errors, number) {
  const names = new Set(errors.filter((e) => e.block === number).flatMap(named));
  panel.querySelectorAll("[data-param]").forEach((input) => {
    if (names.has(input.dataset.param)) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  });
}
