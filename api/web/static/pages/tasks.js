import { api, duration, el, guarded, requireUser, select } from "/static/api.js";
import { opensInSegment, taskTitle, thumbnail } from "/static/pages/task-media.js";

const root = document.getElementById("tasks");
const PAGE_SIZE = 24;
const MODES = ["", "infer", "train", "evaluate", "export", "inspect", "edit", "augment"];
const STATUSES = ["", "pending", "scheduled", "running", "succeeded", "failed", "cancelled"];
const state = { mode: "", status: "", page: 1 };

function card(task) {
  const title = taskTitle(task);
  return el("li", { class: "card task-card", "data-task-id": task.id },
    thumbnail(task, `preview of ${title}`),
    el("div", { class: "task-card-body" },
      el("a", { href: `/tasks/${task.id}`, class: "task-card-title" }, title),
      el("p", { class: "hint" }, [task.mode, task.model, title === task.dataset_name ? null : task.dataset_name].filter(Boolean).join(" · ")),
      el("p", {}, el("span", { class: `status ${task.status}` }, task.status),
        " · ", el("time", { datetime: task.created_at }, new Date(task.created_at).toLocaleString()),
        task.finished_at ? ` · took ${duration(task.started_at, task.finished_at)}` : ""),
      opensInSegment(task)
        ? el("p", {}, el("a", { href: `/segment?task=${encodeURIComponent(task.id)}`, class: "button secondary" }, "Open in Segment"))
        : null));
}

function filters() {
  const mode = select(MODES.map((m) => [m, m || "any mode"]), state.mode);
  const status = select(STATUSES.map((s) => [s, s || "any status"]), state.status);
  mode.id = "filter-mode";
  status.id = "filter-status";
  mode.addEventListener("change", () => { state.mode = mode.value; state.page = 1; guarded(load); });
  status.addEventListener("change", () => { state.status = status.value; state.page = 1; guarded(load); });
  return el("div", { class: "row task-filters" },
    el("label", { for: "filter-mode" }, "Mode "), mode,
    el("label", { for: "filter-status" }, "Status "), status);
}

function pager(count) {
  const older = el("button", { type: "button", class: "secondary", disabled: count < PAGE_SIZE, onclick: () => { state.page += 1; guarded(load); } }, "Older");
  const newer = el("button", { type: "button", class: "secondary", disabled: state.page === 1, onclick: () => { state.page -= 1; guarded(load); } }, "Newer");
  return el("p", { class: "row" }, newer, el("span", { class: "hint" }, `page ${state.page}`), older);
}

async function load() {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), page: String(state.page) });
  if (state.mode) query.set("mode", state.mode);
  if (state.status) query.set("status", state.status);
  const tasks = await api(`/tasks?${query}`);
  const filtered = state.mode || state.status || state.page > 1;
  if (!tasks.length && !filtered) {
    root.replaceChildren(el("p", { class: "notice" }, "No tasks yet. ", el("a", { href: "/segment" }, "Segment a photo"),
      " or ", el("a", { href: "/train" }, "train a classifier"), "."));
    return;
  }
  root.replaceChildren(filters(),
    tasks.length ? el("ul", { class: "task-history", "aria-label": "your tasks, newest first" }, tasks.map(card))
      : el("p", { class: "notice" }, "No task matches these filters."),
    pager(tasks.length));
}

(async () => {
  try {
    if (!(await requireUser(root))) return;
    await load();
  } catch (error) {
    root.replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
  }
})();
