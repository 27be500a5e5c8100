import { ApiError, api, currentUser, el, guarded, metricsText } from "/static/api.js";
import { activityCard, sourcesNote } from "/static/pages/sharing.js";

const root = document.getElementById("resource");
const access = document.getElementById("access");
const name = root.dataset.name;
const path = `/resources/${encodeURIComponent(name)}`;

function bytes(size) {
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]} (${size.toLocaleString()} bytes)`;
}

function resourceLink(resource, version) {
  return el("a", { href: `/resources/${encodeURIComponent(resource)}` }, `${resource} v${version}`);
}

function details(resource) {
  const rights = resource.permissions.length ? resource.permissions.join(", ") : "none";
  return el("div", { class: "card" },
    el("h2", {}, resource.title),
    el("p", { class: "mono" }, resource.name),
    el("p", {}, `${resource.kind} · by ${resource.owner} · ${resource.visibility}${resource.download ? "" : " · run-only"}`),
    sourcesNote(resource),
    resource.description ? el("p", {}, resource.description) : null,
    resource.citation ? el("p", {}, el("strong", {}, "Cite: "), resource.citation) : null,
    resource.license ? el("p", {}, el("strong", {}, "License: "), resource.license) : null,
    el("p", {}, el("strong", {}, "Latest version: "), resource.latest_version ? `v${resource.latest_version}` : "none yet"),
    el("p", { id: "your-rights" }, el("strong", {}, "Your rights: "), rights),
    resource.permissions.includes("modify")
      ? el("p", { class: "row" },
        el("a", { class: "button", href: `/provide?resource=${encodeURIComponent(resource.name)}` }, "Upload a new version"),
        resource.permissions.includes("own")
          ? el("a", { class: "button secondary", href: `/provide?resource=${encodeURIComponent(resource.name)}#rights` }, "Manage access")
          : null)
      : null,
  );
}

function askForm(owner, held = []) {
  // Only the rights one lacks: someone who may already run tasks asks for modify.
  const permission = el("select", { id: "ask-permission", name: "permission" },
    held.includes("use") ? null : el("option", { value: "use" }, "use: run tasks on this model"),
    el("option", { value: "modify" }, "modify: publish new versions"));
  const message = el("textarea", { id: "ask-message", name: "message", maxlength: "2000", rows: "3" });
  const form = el("form", { class: "card", id: "ask-form" },
    el("h2", {}, "Ask for access"),
    el("p", { class: "hint" }, held.includes("own")
      ? "You made this from a model you can no longer read: your request goes to that model's owner, who can approve or deny it."
      : `Your request goes to ${owner || "the owner"}, who can approve or deny it.`),
    el("label", { for: "ask-permission" }, "Right to ask for"), permission,
    el("label", { for: "ask-message" }, "Message to the owner ", el("span", { class: "hint" }, "(optional: who you are and what for)")),
    message,
    el("p", {}, el("button", { type: "submit" }, "Ask for access")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const sent = await api(`${path}/access-requests`, {
        method: "POST", json: { permission: permission.value, message: message.value },
      });
      form.replaceWith(el("p", { class: "notice", id: "ask-sent" },
        `Your request for the ${sent.permission} right was sent. You will have it once the owner approves.`));
    });
  });
  return form;
}

async function renderAccess(user, resource) {
  if (!user) {
    const next = encodeURIComponent(location.pathname);
    access.replaceChildren(el("p", { class: "notice" }, "To use this model or ask for access, ",
      el("a", { href: `/signin?next=${next}` }, "sign in"), " or ", el("a", { href: `/signup?next=${next}` }, "sign up"), "."));
    return;
  }
  if (resource && resource.permissions.includes("use") && resource.permissions.includes("modify")) return;
  let mine = [];
  if (resource) {
    try {
      mine = (await api(`${path}/access-requests?status=pending`)).filter((r) => r.requester === user.username);
    } catch { /* the form still works */ }
  }
  access.replaceChildren(
    ...mine.map((r) => el("p", { class: "notice" }, `You asked for the ${r.permission} right; waiting for the owner's answer.`)),
    askForm(resource && resource.owner, resource ? resource.permissions : []),
  );
}

function versionCard(version, children) {
  const lineage = [];
  if (version.parent !== null && version.parent !== undefined) {
    const parentName = version.parent_resource || name;
    // Say how it was made: by the task that published it, else (an upload naming a parent) "derives from".
    const made = { train: "Trained from ", export: "Quantized from ", edit: "Edited from " }[(version.provenance || {}).mode] || "Derives from ";
    lineage.push(el("p", { class: "lineage" }, made, resourceLink(parentName, version.parent),
      version.parent_digest ? el("span", { class: "mono" }, ` (${version.parent_digest})`) : null));
  }
  if (children.length) {
    lineage.push(el("p", { class: "lineage" }, "Parent of ", children.flatMap((c, i) => [i ? ", " : "", resourceLink(c.resource, c.version)])));
  }
  return el("article", { class: "card", "data-version": String(version.version) },
    el("h3", {}, `Version ${version.version}`),
    el("p", {}, `Published by ${version.created_by} on ${new Date(version.created_at).toLocaleString()}`),
    el("p", {}, "Digest: ", el("span", { class: "mono" }, version.digest)),
    ...lineage,
    version.files.length
      ? el("div", { class: "table-wrap" }, el("table", {},
        el("caption", { class: "hint" }, `Files of version ${version.version}`),
        el("thead", {}, el("tr", {}, ["File", "Size", "sha256"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, version.files.map((f) => el("tr", {},
          el("td", { class: "mono" }, f.name), el("td", {}, bytes(f.size)), el("td", { class: "mono" }, f.sha256))))))
      : el("p", { class: "hint" }, "No files: an architecture-only version."),
    el("details", {}, el("summary", {}, "Config"), el("pre", { class: "mono" }, JSON.stringify(version.config, null, 2))),
    version.reported_metrics && Object.keys(version.reported_metrics).length
      ? el("p", {}, el("strong", {}, "Reported metrics: "),
        metricsText(version.reported_metrics))
      : null,
    version.provenance ? el("details", {}, el("summary", {}, "Provenance"),
      el("pre", { class: "mono" }, JSON.stringify(version.provenance, null, 2))) : null,
  );
}

/** Versions of other visible resources whose parent is a version of this one (best effort). */
async function derivedElsewhere(resource) {
  const others = (await api("/resources?limit=200")).filter((r) => r.name !== name && r.latest_version);
  const found = [];
  await Promise.all(others.slice(0, 50).map(async (other) => {
    try {
      for (const v of await api(`/resources/${encodeURIComponent(other.ref || other.name)}/versions`)) {
        if (v.parent_resource === resource.name) found.push(v);
      }
    } catch { /* not ours to see */ }
  }));
  return found;
}

guarded(async () => {
  const user = await currentUser();
  let resource;
  try {
    resource = await api(path);
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 403)) throw error;
    // No form here: a request for something one cannot see would tell whether it exists.
    root.replaceChildren(el("p", { class: "notice", id: "not-visible" }, user
      ? `No model named “${name}” is visible to you. If it is private, ask its owner to share it with you: a grant to your user name (${user.username}) or to a group you are in. `
      : ["No public model is named “", name, "”. If it is private and shared with you, ",
        el("a", { href: `/signin?next=${encodeURIComponent(location.pathname)}` }, "sign in"), " to see it. "],
      el("a", { href: "/explore" }, "Explore the models you can see"), "."));
    return;
  }
  document.title = `${resource.title} · Model Commons`;
  root.replaceChildren(details(resource));
  await renderAccess(user, resource);
  if (user && resource.permissions.includes("own")) {
    const activity = await activityCard("resource", resource.id);
    if (activity) document.getElementById("activity-section").replaceChildren(activity);
  }

  const versions = await api(`${path}/versions`);
  const section = document.getElementById("versions-section");
  section.hidden = false;
  const list = document.getElementById("versions");
  if (!versions.length) {
    list.replaceChildren(el("p", { class: "notice" }, "No versions yet."));
  } else {
    const childrenOf = (n) => versions
      .filter((v) => v.parent === n && (v.parent_resource || name) === name)
      .map((v) => ({ resource: name, version: v.version }));
    list.replaceChildren(...versions.slice().reverse().map((v) => versionCard(v, childrenOf(v.version))));
  }
  const derived = await derivedElsewhere(resource).catch(() => []);
  if (derived.length) {
    document.getElementById("derived-section").hidden = false;
    document.getElementById("derived").replaceChildren(...derived.map((v) =>
      el("li", {}, resourceLink(v.resource, v.version), ` trained from ${name} v${v.parent} by ${v.created_by}`)));
  }
});
