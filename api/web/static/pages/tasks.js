import { api, duration, el, guarded, requireUser } from "/static/api.js";

const root = document.getElementById("tasks");

guarded(async () => {
  if (!(await requireUser(root))) return;
  const tasks = await api("/tasks?limit=100");
  if (!tasks.length) {
    root.replaceChildren(el("p", { class: "notice" }, "No tasks yet. ", el("a", { href: "/segment" }, "Segment a photo"),
      " or ", el("a", { href: "/train" }, "train a classifier"), "."));
    return;
  }
  root.replaceChildren(el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["Task", "Mode", "Runs on", "Status", "Duration", "Submitted"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, tasks.map((task) => el("tr", {},
      el("td", {}, el("a", { href: `/tasks/${task.id}` }, task.id.slice(0, 8))),
      el("td", {}, task.mode),
      el("td", {}, task.resource
        ? el("a", { href: `/resources/${encodeURIComponent(task.resource)}` }, `${task.resource} v${task.version}`)
        : el("a", { href: `/datasets/${encodeURIComponent(task.dataset)}` }, "dataset")),
      el("td", { class: `status ${task.status}` }, task.status),
      el("td", {}, duration(task.started_at, task.finished_at)),
      el("td", {}, new Date(task.created_at).toLocaleString()),
    ))),
  )));
});
