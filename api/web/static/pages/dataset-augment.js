import { api, el, followTask, guarded, stepList } from "/static/api.js";

/** The operations offered, in the order they are applied; each makes one copy of every photo. */
const OPERATIONS = [
  { op: "rotate", label: "Rotated by", unit: "degrees", field: "degrees", value: 15, min: -180, max: 180, step: "any" },
  { op: "blur", label: "Blurred with radius", unit: "pixels", field: "radius", value: 1, min: 0.1, max: 20, step: "any" },
  { op: "flip", label: "Mirrored left-right (flip)" },
  { op: "flop", label: "Turned upside down (flop)" },
];

function operationRow(spec) {
  const box = el("input", { type: "checkbox", id: `augment-${spec.op}`, checked: true });
  const number = spec.field
    ? el("input", { type: "number", id: `augment-${spec.op}-${spec.field}`, value: String(spec.value), min: spec.min,
      max: spec.max, step: spec.step, "aria-label": `${spec.label} (${spec.unit})`, style: "width:6rem" })
    : null;
  const row = el("div", { class: "row", style: "align-items:center;gap:.5rem" },
    el("label", { for: `augment-${spec.op}`, style: "display:inline-flex;gap:.4rem;font-weight:400" }, box, spec.label),
    number, number ? el("span", { class: "hint" }, spec.unit) : null);
  const read = () => {
    if (!box.checked) return null;
    return number ? { op: spec.op, [spec.field]: Number(number.value) } : { op: spec.op };
  };
  return { row, read };
}

/** A card that makes an augmented copy of the dataset as a task, follows it and links the new dataset. */
export function augmentCard(dataset) {
  const rows = OPERATIONS.map(operationRow);
  const keep = el("input", { type: "checkbox", id: "augment-keep", checked: true });
  const name = el("input", { type: "text", id: "augment-name", maxlength: 100, size: 40, value: `${dataset.name} (augmented)`.slice(0, 100) });
  const start = el("button", { type: "submit", id: "augment-start" }, "Make augmented copy");
  const estimate = el("p", { class: "hint", id: "augment-estimate", "aria-live": "polite" });
  const progress = el("div", { id: "augment-progress", "aria-live": "polite" });
  const update = () => {
    const copies = rows.filter((r) => r.read()).length + (keep.checked ? 1 : 0);
    estimate.textContent = `${dataset.item_count} photos → ${dataset.item_count * copies} photos in the new dataset (labels carried over).`;
  };
  const form = el("form", { class: "card", id: "augment" },
    el("h2", {}, "Augment"),
    el("p", { class: "hint" }, "Make a new dataset in which every photo also appears transformed, each copy with its photo's label. The originals here stay as they are."),
    el("fieldset", {}, el("legend", {}, "Copies of every photo"), ...rows.map((r) => r.row)),
    el("label", { for: "augment-keep", style: "display:inline-flex;gap:.4rem;font-weight:400" }, keep, "Keep the originals in the new dataset"),
    el("div", {}, el("label", { for: "augment-name" }, "New dataset's name"), name),
    estimate,
    el("p", {}, start),
    progress);
  form.addEventListener("change", update);
  update();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const operations = rows.map((r) => r.read()).filter(Boolean);
      start.disabled = true;
      try {
        const task = await api(`/datasets/${encodeURIComponent(dataset.id)}/augment`, { method: "POST", json: {
          operations, keep_original: keep.checked, name: name.value.trim() || null,
        } });
        const status = el("span", { class: `status ${task.status}`, id: "augment-status" }, task.status);
        const steps = el("div", {}, stepList(task));
        progress.replaceChildren(el("p", {}, "Task ", el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8)), " · ", status), steps);
        const show = (current) => {
          status.textContent = current.status;
          status.className = `status ${current.status}`;
          steps.replaceChildren(stepList(current));
        };
        const ended = (await followTask(task.id, (kind, data) => { if (kind === "task") show(data); })) || (await api(`/tasks/${task.id}`));
        show(ended);
        if (ended.status === "succeeded" && ended.result) {
          progress.append(el("p", { class: "notice" }, "Made ",
            el("a", { href: `/datasets/${encodeURIComponent(ended.result.dataset)}`, id: "augmented-link" }, ended.result.name),
            ` with ${ended.result.items} photos.`));
        } else if (ended.error) {
          progress.append(el("p", { class: "error" }, ended.error));
        }
      } finally {
        start.disabled = false;
      }
    });
  });
  return form;
}

/** Where a derived dataset came from: its source and the operations, or nothing for an original dataset. */
export function lineage(dataset) {
  if (!dataset.source || !dataset.derivation) return null;
  const d = dataset.derivation;
  const ops = (d.operations || []).map((o) => o.op + (o.degrees !== undefined ? ` ${o.degrees}°` : "") + (o.radius !== undefined ? ` r=${o.radius}` : ""));
  return el("p", { id: "lineage" }, "Derived from ",
    el("a", { href: `/datasets/${encodeURIComponent(dataset.source)}` }, d.source ? d.source.name : "its source"),
    ` by ${d.method || "a task"} (${ops.join(", ")}${d.keep_original === false ? ", originals left out" : ""}) in task `,
    el("a", { href: `/tasks/${encodeURIComponent(d.task)}` }, String(d.task).slice(0, 8)), ".");
}
