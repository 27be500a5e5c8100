import { api, el, followTask, guarded, lineChart, requireUser, resourcePath, shownNumber, stepList } from "/static/api.js";

const root = document.getElementById("task");
const taskId = root.dataset.taskId;

function outputsList(task) {
  if (!task.outputs.length) return el("p", { class: "hint" }, task.status === "succeeded" ? "No outputs." : "Outputs appear when the task has published them.");
  return el("ul", {}, task.outputs.map((o) => el("li", {},
    o.url ? el("a", { href: o.url, download: o.name.split("/").pop() }, o.name) : el("span", { title: o.withheld }, o.name, " (withheld: ", o.withheld, ")"),
    ` (${o.size} bytes) `, el("span", { class: "mono" }, o.sha256.slice(0, 16), "…"))));
}

async function reproductionCard(task) {
  const report = task.outputs.find((o) => o.name === "reproduction.json");
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

function render(task, epochs) {
  const cancel = el("button", { type: "button", class: "danger", onclick: () => guarded(async () => {
    await api(`/tasks/${task.id}/cancel`, { method: "POST" });
  }) }, "Cancel");
  const reproduce = el("button", { type: "button", class: "secondary", onclick: () => guarded(async () => {
    const again = await api(`/tasks/${task.id}/reproduce`, { method: "POST" });
    location.href = `/tasks/${again.id}`;
  }) }, "Reproduce");
  const active = ["pending", "scheduled", "running"].includes(task.status);
  const chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  chart.classList.add("chart");
  if (epochs.length) {
    lineChart(chart, { title: "Loss", series: [
      { name: "train loss", color: "#1f77b4", points: epochs.map((e) => [e.epoch, e.train_loss]) },
      { name: "val loss", color: "#e6781e", points: epochs.map((e) => [e.epoch, e.val_loss]) },
    ] });
  }
  root.replaceChildren(...[
    el("p", {}, `${task.mode} on `, task.resource
      ? el("a", { href: `/resources/${encodeURIComponent(task.resource)}` }, `${task.resource} v${task.version}`)
      : el("a", { href: `/datasets/${encodeURIComponent(task.dataset)}` }, "a dataset"),
      " · status ", el("span", { class: `status ${task.status}`, id: "task-status" }, task.status),
      task.reproduces ? el("span", {}, " · reproduces ", el("a", { href: `/tasks/${task.reproduces}` }, task.reproduces.slice(0, 8))) : null),
    el("progress", { max: 1, value: task.progress, "aria-label": "progress" }),
    stepList(task),
    task.error ? el("p", { class: "error" }, task.error) : null,
    epochs.length ? chart : null,
    el("p", { class: "row" }, active ? cancel : null, task.status === "succeeded" ? reproduce : null),
    el("h2", {}, "Outputs"), outputsList(task),
    task.manifest_url ? el("p", {}, el("a", { href: task.manifest_url }, "manifest.json"), " (inputs, weights, parameters, environment, digests)") : null,
    task.mode === "inspect" ? el("p", {}, el("a", { href: `/inspect?task=${encodeURIComponent(task.id)}`, id: "open-inspect", class: "button secondary" }, "Open in Inspect")) : null,
    task.result && task.result.resource ? el("p", {}, "Published ", el("a", { href: resourcePath({ ref: task.result.ref, name: task.result.resource }) }, `${task.result.ref || task.result.resource} version ${task.result.version}`)) : null,
    task.result && task.result.dataset ? el("p", {}, "Made the dataset ", el("a", { href: `/datasets/${task.result.dataset}`, id: "derived-dataset" }, task.result.name), ` (${task.result.items} photos)`) : null,
    el("div", { id: "reproduction-slot" }),
    el("section", { class: "card" },
      el("h2", {}, "Logs ", el("button", { type: "button", class: "secondary", onclick: () => guarded(showLogs) }, "Refresh logs")),
      el("pre", { id: "logs", class: "mono", tabindex: "0", "aria-label": "log lines of the task's run" }, logText)),
  ].filter(Boolean));
  if (task.status === "succeeded") {
    reproductionCard(task).then((card) => card && document.getElementById("reproduction-slot").replaceChildren(card));
  }
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  let task = await api(`/tasks/${taskId}`);
  const epochs = await api(`/tasks/${taskId}/metrics`);
  render(task, epochs);
  await showLogs();
  if (["pending", "scheduled", "running"].includes(task.status)) {
    const seen = new Set(epochs.map((e) => e.epoch));
    await followTask(taskId, (name, data) => {
      if (name === "epoch" && !seen.has(data.epoch)) { seen.add(data.epoch); epochs.push(data); }
      if (name === "task") task = data;
      render(task, epochs);
    });
    await showLogs();
  }
});
