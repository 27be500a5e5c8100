// The Files tab: every version's files with a download link where the viewer may download them. The link
// asks the API (with the viewer's token) for the file, which answers with a short-lived object-store URL.
import { downloadLink, el } from "/static/api.js";

export function bytes(size) {
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function fileLink(url, name) {
  return downloadLink(url, name, `Download ${name}`, { authorized: true, attributes: { "data-file": name } });
}

/** Why the viewer gets no download links, or null when they do (a run-only source is told on the click). */
function noDownload(resource) {
  if (resource.permissions.includes("own") || resource.download) return null;
  return `${resource.title} is run-only: its owner lets you run tasks on it (Try it, and the Segment, Train and Evaluate pages) but not download its files.`;
}

function versionFiles(resource, base, version, refused) {
  const header = el("h3", {}, `Version ${version.version}`, version.version === resource.latest_version ? " (latest)" : "");
  if (!version.files.length) {
    return el("div", { "data-files-version": String(version.version) }, header,
      el("p", { class: "hint" }, "No files: an architecture-only version (its weights start from the config's seed)."));
  }
  const rows = version.files.map((f) => el("tr", {},
    el("td", { class: "mono" }, refused ? f.name : fileLink(`/api/v1${base}/versions/${version.version}/files/${encodeURIComponent(f.name)}`, f.name)),
    el("td", {}, bytes(f.size)),
    el("td", { class: "mono" }, f.sha256)));
  return el("div", { "data-files-version": String(version.version) }, header,
    el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "hint" }, `Files of version ${version.version}`),
      el("thead", {}, el("tr", {}, ["File", "Size", "sha256"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))));
}

/** The Files tab's panel: newest version first. */
export function filesPanel(resource, versions) {
  const base = `/resources/${resource.ref.split("/").map(encodeURIComponent).join("/")}`;
  const refused = noDownload(resource);
  return el("section", { "aria-label": "Files" },
    refused ? el("p", { class: "notice", id: "no-download" }, refused) : null,
    versions.length ? versions.slice().reverse().map((v) => versionFiles(resource, base, v, refused))
      : el("p", { class: "notice" }, "No version yet, so no files."));
}
