// Evaluate page: which photos training saw. A trained version's provenance names its training task and dataset;
// the task's split.json lists the photos that trained and those that validated, by sha256.
import { api } from "/static/api.js";

/** Read a task output (a presigned object-store URL) as JSON, with a readable error. */
export async function outputJson(task, name) {
  const found = task.outputs.find((o) => o.name === name || o.name.endsWith(`/${name}`));
  if (!found) throw new Error(`The task wrote no ${name}.`);
  let response;
  try {
    response = await fetch(found.url);
  } catch (error) {
    throw new Error(`Could not read ${name} from the object store (${error.message}).`);
  }
  if (!response.ok) throw new Error(`Could not read ${name} from the object store (HTTP ${response.status}).`);
  return response.json();
}

/** What is known of how `version` (an entry of GET /resources/{ref}/versions) was trained:
 * { dataset: {id, name}|null, train: Set(sha256), val: Set(sha256) } when its split is readable, else
 * { dataset, reason } saying why the page cannot tell which photos training saw (null dataset: not trained here). */
export async function trainingSplit(version) {
  const provenance = (version && version.provenance) || {};
  if (provenance.mode !== "train" || !provenance.task) {
    return { dataset: null, reason: "this version was not trained here (it was uploaded or made by another kind of task), so no photo is known to be seen in training" };
  }
  const dataset = provenance.dataset || null;
  let task;
  try {
    task = await api(`/tasks/${encodeURIComponent(provenance.task)}`);
  } catch {
    return { dataset, reason: "its training task is not one you may read, so the page cannot tell which photos training saw" };
  }
  try {
    const split = await outputJson(task, "split.json");
    return { dataset, train: new Set(split.train_items || []), val: new Set(split.val_items || []) };
  } catch (error) {
    return { dataset, reason: `its training split could not be read (${error.message})` };
  }
}
