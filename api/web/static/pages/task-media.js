/** Task media fetched with the caller's token: thumbnails (as blob URLs) and the outputs zip (saved as a file). */
import { el, token } from "/static/api.js";

const API = "/api/v1";

async function authorized(path) {
  const current = token();
  const response = await fetch(API + path, { headers: current ? { Authorization: `Bearer ${current}` } : {} });
  if (!response.ok) {
    let detail = "";
    try { detail = (await response.json()).detail; } catch { detail = ""; }
    throw new Error(typeof detail === "string" && detail ? detail : `The request failed (HTTP ${response.status}); reload the page and try again.`);
  }
  return response.blob();
}

/** An <img> showing the task's thumbnail once fetched; a plain placeholder when it has none or it fails. */
export function thumbnail(task, alt) {
  const box = el("div", { class: "task-thumb", "aria-hidden": task.thumbnail_url ? null : "true" });
  if (!task.thumbnail_url) {
    box.append(el("span", { class: "task-thumb-none" }, task.mode));
    return box;
  }
  authorized(task.thumbnail_url.replace(API, "")).then((blob) => {
    box.replaceChildren(el("img", { src: URL.createObjectURL(blob), alt, class: "task-thumb-img", width: "96", height: "96" }));
  }).catch(() => box.replaceChildren(el("span", { class: "task-thumb-none" }, task.mode)));
  return box;
}

/** Fetch the task's outputs zip with the caller's token and save it. */
export async function downloadAll(task) {
  const blob = await authorized(`/tasks/${task.id}/outputs.zip`);
  const saved = URL.createObjectURL(blob);
  const anchor = el("a", { href: saved, download: `task-${task.id.slice(0, 8)}-outputs.zip` });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(saved), 10_000);
}

/** What a person knows a task by: its photos' names, or its dataset, or its model. */
export function taskTitle(task) {
  if (task.input_names.length) {
    const [first, ...rest] = task.input_names;
    return rest.length ? `${first} and ${rest.length} more` : first;
  }
  if (task.dataset_name) return task.dataset_name;
  return task.model || `${task.mode} task`;
}

/** A finished SAM segmentation reopens in the Segment page. */
export function opensInSegment(task) {
  return task.status === "succeeded" && task.mode === "infer" && (task.kind || "").startsWith("segmenter");
}
