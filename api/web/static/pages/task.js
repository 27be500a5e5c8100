import { api, el, followTask, guarded, lineChart, requireUser, resourcePath, shownNumber, stepList } from "/static/api.js";
import { opensInSegment } from "/static/pages/task-media.js";
import { outputsSection } from "/static/pages/task-outputs.js";

const root = document.getElementById("task");
const taskId = root.dataset.taskId;
const ACTIVE = ["pending", "scheduled", "running"];

async function reproductionCard(task) {
  const report = task.outputs.find((o) => o.name === "reproduction.json" && o.url);
  if (!report) return null;
  const body = await (await fetch(report.url)).json();
  return el("section", { class: "card", id: "reproduction" },
    el("h2", {}, "Reproduction report: ", el("span", { class: body.pass ? "status succeeded" : "status failed" }, body.pass ? "pass" : "fail")),
    el("p", {}, body.summary),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Figure", "Original", "Reproduced", "Tolerance", "Pass"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, body.figures.map((f) => el("tr", {}, el("td", {}, f.name), el("td", {}, shownNumber(f.original, f.name)),
        el("td", {}, shownNumber(f.reproduced, f.name)), el("td", {}, shownNumber(f.tolerance, f.name)), el("td", {}, f.pass ? "yes" : "no")))))));
}

let logText = "No log lines yet.";

async function showLogs() {
  const lines = await api(`/tasks/${taskId}/logs?limit=1000`);
  logText = lines.length
    ? lines.map((l) => `${new Date(l.timestamp).toLocaleTimeString()} ${l.level.padEnd(7)} ${l.message}`).join("\n")
    : "No log lines yet (a worker ships them every few seconds).";
  const box = document.getElementById("logs");
  if (box) box.textContent = logText;
}

function subject(task) {
  if (task.resource === "") return el("span", {}, "a model you cannot see");
  if (task.resource) return el("a", { href: resourcePath({ ref: task.model ? task.model.replace(/ v\d+$/, "") : task.resource }) }, task.model || `${task.resource} v${task.version}`);
  return el("a", { href: `/datasets/${encodeURIComponent(task.dataset)}` }, task.dataset_name || "a dataset");
}

function chart(epochs) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.classList.add("chart");
  lineChart(svg, { title: "Loss", series: [
    { name: "train loss", color: "#1f77b4", points: epochs.map((e) => [e.epoch, e.train_loss]) },
    { name: "val loss", color: "#e6781e", points: epochs.map((e) => [e.epoch, e.val_loss]) },
  ] });
  return svg;
}

function actions(task) {
  const cancel = el("button", { type: "button", class: "danger", onclick: () => guarded(async () => {
    await api(`/tasks/${task.id}/cancel`, { method: "POST" });
  }) }, "Cancel");
  const reproduce = el("button", { type: "button", class: "secondary", onclick: () => guarded(async () => {
    const again = await api(`/tasks/${task.id}/reproduce`, { method: "POST" });
    location.href = `/tasks/${again.id}`;
  }) }, "Reproduce");
  const segment = el("a", { href: `/segment?task=${encodeURIComponent(task.id)}`, class: "button secondary", id: "open-segment" }, "Open in Segment");
  return el("p", { class: "row" }, ACTIVE.includes(task.status) && !task.public ? cancel : null,
    task.status === "succeeded" ? reproduce : null, opensInSegment(task) && !task.public ? segment : null);
}

function facts(task) {
  return [
    task.public ? el("p", { class: "notice", id: "public-view" }, `${task.owner}'s task, shown to you because you may use what it published: `,
      "its steps, parameters, manifest and the outputs you may read. Its logs stay with its submitter.") : null,
    el("p", {}, `${task.mode} on `, subject(task),
      " · status ", el("span", { class: `status ${task.status}`, id: "task-status" }, task.status),
      task.reproduces ? el("span", {}, " · reproduces ", el("a", { href: `/tasks/${task.reproduces}` }, task.reproduces.slice(0, 8))) : null),
    task.input_names.length ? el("p", { class: "task-inputs" }, "Photos: ", task.input_names.join(", ")) : null,
    task.dataset && task.resource !== null ? el("p", {}, "Dataset: ", el("a", { href: `/datasets/${encodeURIComponent(task.dataset)}` }, task.dataset_name || "a dataset you cannot see")) : null,
  ];
}

function render(task, epochs) {
  root.replaceChildren(...[
    ...facts(task),
    el("progress", { max: 1, value: task.progress, "aria-label": "progress" }),
    stepList(task),
    task.error ? el("p", { class: "error" }, task.error) : null,
    epochs.length ? chart(epochs) : null,
    actions(task),
    Object.keys(task.params).length ? el("details", { class: "task-params" }, el("summary", {}, "Parameters"), el("pre", { class: "mono" }, JSON.stringify(task.params, null, 2))) : null,
    ...outputsSection(task),
    task.manifest_url ? el("p", {}, el("a", { href: task.manifest_url }, "manifest.json"), " (inputs, weights, parameters, environment, digests)") : null,
    task.mode === "inspect" && !task.public ? el("p", {}, el("a", { href: `/inspect?task=${encodeURIComponent(task.id)}`, id: "open-inspect", class: "button secondary" }, "Open in Inspect")) : null,
    task.result && task.result.resource ? el("p", {}, "Published ", el("a", { href: resourcePath({ ref: task.result.ref, name: task.result.resource }) }, `${task.result.ref || task.result.resource} version ${task.result.version}`)) : null,
    task.result && task.result.dataset ? el("p", {}, "Made the dataset ", el("a", { href: `/datasets/${task.result.dataset}`, id: "derived-dataset" }, task.result.name), ` (${task.result.items} photos)`) : null,
    el("div", { id: "reproduction-slot" }),
    task.public ? null : el("section", { class: "card" },
      el("h2", {}, "Logs ", el("button", { type: "button", class: "secondary", onclick: () => guarded(showLogs) }, "Refresh logs")),
      el("pre", { id: "logs", class: "mono", tabindex: "0", "aria-label": "log lines of the task's run" }, logText)),
  ].filter(Boolean));
  if (task.status === "succeeded") {
    reproductionCard(task).then((card) => card && document.getElementById("reproduction-slot").replaceChildren(card)).catch(() => {});
  }
}

async function main() {
  if (!(await requireUser(root))) return;
  let task = await api(`/tasks/${taskId}`);
  const epochs = await api(`/tasks/${taskId}/metrics`);
  render(task, epochs);
  if (task.public) return;
  await guarded(showLogs);
  if (ACTIVE.includes(task.status)) {
    const seen = new Set(epochs.map((e) => e.epoch));
    await followTask(taskId, (name, data) => {
      if (name === "epoch" && !seen.has(data.epoch)) { seen.add(data.epoch); epochs.push(data); }
      if (name === "task") task = { ...task, ...data };
      render(task, epochs);
    });
    task = await api(`/tasks/${taskId}`);
    render(task, epochs);
    await guarded(showLogs);
  }
}

main().catch((error) => {
  root.replaceChildren(el("p", { class: "error", role: "alert", id: "task-error" }, error.message),
    el("p", {}, el("a", { href: "/tasks" }, "Your tasks")));
});
