/** A task's outputs: image previews inline, JSON summarised (predictions as a small table), each downloadable. */
import { downloadLink, el, guarded, shownNumber } from "/static/api.js";
import { downloadAll } from "/static/pages/task-media.js";

const IMAGE = /\.(png|jpe?g|webp)$/i;
const TABLE_ROWS = 20;

function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function predictionsTable(body) {
  const rows = (body.predictions || []).slice(0, TABLE_ROWS);
  const infer = rows.length && rows[0].top;
  const head = infer ? ["Photo", "Top classes"] : ["Photo", "True", "Predicted", "Right"];
  const cells = (row) => infer
    ? [row.image.name, row.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)} %`).join(", ")]
    : [row.name, row.true ?? "—", row.predicted, row.correct ? "yes" : "no"];
  return el("div", { class: "table-wrap" }, el("table", { class: "predictions" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {}, cells(row).map((c) => el("td", {}, String(c))))))),
  body.predictions.length > TABLE_ROWS ? el("p", { class: "hint" }, `The first ${TABLE_ROWS} of ${body.predictions.length}; download the file for all.`) : null);
}

function summary(name, body) {
  if (Array.isArray(body.predictions)) return predictionsTable(body);
  if (Array.isArray(body.segments)) return el("p", {}, `${body.segments.length} segment${body.segments.length === 1 ? "" : "s"}`);
  if (typeof body.accuracy === "number") return el("p", {}, `Accuracy ${shownNumber(body.accuracy, "accuracy")} on ${body.count ?? "?"} photos`);
  if (name.endsWith("reproduction.json")) return el("p", {}, body.summary || "");
  const keys = Array.isArray(body) ? `a list of ${body.length}` : `fields: ${Object.keys(body).slice(0, 8).join(", ")}`;
  return el("p", { class: "hint" }, keys);
}

function jsonOutput(output) {
  const slot = el("div", { class: "output-summary" }, el("span", { class: "hint" }, "Reading…"));
  fetch(output.url).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((body) => slot.replaceChildren(summary(output.name, body)))
    .catch((error) => slot.replaceChildren(el("span", { class: "hint" }, `Could not read it here (${error.message}); download it instead.`)));
  return slot;
}

function outputItem(output) {
  const file = output.name.split("/").pop();
  const facts = el("p", { class: "hint" }, size(output.size), " · sha256 ", el("span", { class: "mono" }, output.sha256));
  if (!output.url) {
    return el("li", { class: "output withheld" }, el("strong", {}, output.name), el("p", { class: "hint" }, "Not offered: ", output.withheld || "withheld"), facts);
  }
  const preview = IMAGE.test(output.name)
    ? el("img", { src: output.url, alt: output.name, class: "output-preview", loading: "lazy" })
    : output.name.endsWith(".json") ? jsonOutput(output) : null;
  return el("li", { class: "output" }, el("p", {}, downloadLink(output.url, file, output.name)), preview, facts);
}

export function outputsSection(task) {
  if (!task.outputs.length) {
    return [el("h2", {}, "Outputs"), el("p", { class: "hint" }, task.status === "succeeded" ? "No outputs." : "Outputs appear when the task has published them.")];
  }
  const all = el("button", { type: "button", class: "secondary", id: "download-all", onclick: () => guarded(() => downloadAll(task)) }, "Download all (zip)");
  return [
    el("h2", {}, "Outputs"),
    el("p", { class: "row" }, all, el("span", { class: "hint" }, "every file you may read and manifest.json")),
    el("ul", { class: "outputs" }, task.outputs.map(outputItem)),
  ];
}
