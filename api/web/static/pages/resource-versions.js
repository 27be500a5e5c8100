// The Versions tab: each version's origin (its training task, with Reproduce for those who may), its config
// and provenance as readable key/value lists (the raw JSON behind a <details>), and what was made from it.
import { api, el, guarded, metricsText, shownNumber } from "/static/api.js";

const MADE = { train: "Trained from ", export: "Quantized from ", edit: "Edited from " };

function resourceLink(resource, version) {
  const href = `/resources/${resource.split("/").map(encodeURIComponent).join("/")}`;
  return el("a", { href }, `${resource} v${version}`);
}

/** A value as words: numbers rounded, lists joined, objects as nested lists. */
function shown(value, key) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) {
    return value.every((item) => item === null || typeof item !== "object")
      ? value.map((item) => shownNumber(item, key)).join(", ")
      : el("details", {}, el("summary", {}, `${value.length} items`), el("pre", { class: "mono" }, JSON.stringify(value, null, 2)));
  }
  if (typeof value === "object") return keyValues(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  return shownNumber(value, key);
}

/** An object as a <dl> of its keys (underscores as spaces) and readable values. */
export function keyValues(object, attributes = {}) {
  const entries = Object.entries(object || {});
  if (!entries.length) return el("p", { class: "hint" }, "(empty)");
  return el("dl", { class: "kv", ...attributes }, entries.flatMap(([key, value]) => [
    el("dt", {}, key.replaceAll("_", " ")), el("dd", {}, shown(value, key))]));
}

function rawJson(title, value) {
  return el("details", { class: "raw-json" }, el("summary", {}, `${title} as JSON`), el("pre", { class: "mono" }, JSON.stringify(value, null, 2)));
}

function reproduceButton(taskId) {
  const button = el("button", { type: "button", class: "secondary", "data-reproduce": taskId }, "Reproduce");
  button.addEventListener("click", () => guarded(async () => {
    button.disabled = true;
    try {
      const task = await api(`/tasks/${encodeURIComponent(taskId)}/reproduce`, { method: "POST" });
      location.href = `/tasks/${encodeURIComponent(task.id)}`;
    } finally {
      button.disabled = false;
    }
  }));
  return button;
}

function origin(version, resource, user) {
  const provenance = version.provenance || {};
  const lines = [];
  if (version.parent !== null && version.parent !== undefined) {
    lines.push(el("p", { class: "lineage" }, MADE[provenance.mode] || "Derives from ",
      resourceLink(version.parent_resource || resource.name, version.parent),
      version.parent_digest ? el("span", { class: "mono" }, ` (${version.parent_digest})`) : null));
  }
  if (provenance.task) {
    // Who may reproduce (services/submission.py): the submitter, an admin, or anyone with `use` on this model;
    // the task's own sources and dataset are checked again when it runs, and a refusal says which.
    const may = user && resource.permissions.includes("use");
    lines.push(el("p", { class: "made-by-task row" },
      el("span", {}, `Made by a ${provenance.mode || ""} task: `,
        el("a", { href: `/tasks/${encodeURIComponent(provenance.task)}`, "data-task": provenance.task }, `task ${provenance.task.slice(0, 8)}`)),
      may ? reproduceButton(provenance.task) : null));
  }
  return lines;
}

/** One version's card: `children` are versions of this model made from it ({resource, version}). */
export function versionCard(version, children, resource, user) {
  const provenance = version.provenance;
  return el("article", { class: "card", "data-version": String(version.version), id: `version-${version.version}` },
    el("h3", {}, `Version ${version.version}`, version.version === resource.latest_version ? " (latest)" : ""),
    el("p", {}, `Published by ${version.created_by} on ${new Date(version.created_at).toLocaleString()}`),
    el("p", {}, "Digest: ", el("span", { class: "mono" }, version.digest)),
    ...origin(version, resource, user),
    children.length ? el("p", { class: "lineage" }, "Parent of ", children.flatMap((c, i) => [i ? ", " : "", resourceLink(c.resource, c.version)])) : null,
    el("p", {}, version.files.length ? `${version.files.length} file(s): see the Files tab.` : "No files: an architecture-only version."),
    version.reported_metrics && Object.keys(version.reported_metrics).length
      ? el("p", {}, el("strong", {}, "Reported metrics: "), metricsText(version.reported_metrics)) : null,
    el("h4", {}, "Config"), keyValues(version.config, { "data-kv": "config" }), rawJson("Config", version.config),
    provenance ? [el("h4", {}, "Provenance"), keyValues(provenance, { "data-kv": "provenance" }), rawJson("Provenance", provenance)] : null);
}

/** The Versions tab's panel, newest first. */
export function versionsPanel(resource, versions, user) {
  if (!versions.length) return el("section", { "aria-label": "Versions" }, el("p", { class: "notice" }, "No versions yet."));
  const childrenOf = (n) => versions
    .filter((v) => v.parent === n && (v.parent_resource || resource.name) === resource.name)
    .map((v) => ({ resource: resource.name, version: v.version }));
  return el("section", { "aria-label": "Versions", id: "versions" },
    versions.slice().reverse().map((v) => versionCard(v, childrenOf(v.version), resource, user)));
}
