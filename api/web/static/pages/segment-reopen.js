// Reopening a finished segmentation (/segment?task=<id>): its photos (fetched from the uploads, as Files),
// its model, settings and prompts put back in the form, its results shown; new points make a new task.

import { ApiError, api, el, token } from "/static/api.js";

async function photoFile(uploadId, name) {
  const response = await fetch(`/api/v1/uploads/${encodeURIComponent(uploadId)}/file`, {
    headers: token() ? { Authorization: `Bearer ${token()}` } : {},
  });
  if (!response.ok) return null;
  const blob = await response.blob();
  return new File([blob], name, { type: blob.type });
}

/** The task and its photos ([{file, upload}]), or an ApiError in plain words for a task that cannot be reopened. */
export async function loadTask(taskId) {
  const task = await api(`/tasks/${encodeURIComponent(taskId)}`);
  if (task.kind && task.kind !== "segmenter.sam") {
    throw new ApiError(409, `Task ${taskId.slice(0, 8)} is not a segmentation (it ran a ${task.kind} model); open it on its task page.`);
  }
  if (task.status !== "succeeded") {
    throw new ApiError(409, `Task ${taskId.slice(0, 8)} has not finished (${task.status}); follow it on its task page.`);
  }
  const names = task.input_names || [];
  const photos = [];
  for (const [index, upload] of (task.inputs || []).entries()) {
    const file = await photoFile(upload, names[index] || `photo-${index + 1}.png`);
    if (file) photos.push({ file, upload });
  }
  return { task, photos };
}

/** The line above the form saying what was reopened. */
export function reopenedNotice(task, photos) {
  const when = task.finished_at ? new Date(task.finished_at).toLocaleString() : "";
  const missing = (task.inputs || []).length - photos.length;
  return [
    "Reopened ", el("a", { href: `/tasks/${task.id}` }, `task ${task.id.slice(0, 8)}`),
    when ? ` (finished ${when})` : "", ". Change the points or settings and press Segment for a new task.",
    missing > 0 ? ` ${missing} of its photos are no longer stored; upload them again to run on them.` : "",
  ];
}
