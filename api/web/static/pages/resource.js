// A model's page, like the hubs users know: who made it and what one may do with it, then tabs — the model
// card, the files, a try-it box, API snippets, the lineage graph and every version's details.
import { ApiError, api, currentUser, el, guarded } from "/static/api.js";
import { activityCard, sourcesNote } from "/static/pages/sharing.js";
import { renderAccess } from "/static/pages/resource-access.js";
import { apiPanel } from "/static/pages/resource-api.js";
import { cardPanel } from "/static/pages/resource-card.js";
import { filesPanel } from "/static/pages/resource-files.js";
import { lineagePanel } from "/static/pages/resource-lineage.js";
import { tabs } from "/static/pages/resource-tabs.js";
import { tryItPanel } from "/static/pages/resource-tryit.js";
import { versionsPanel } from "/static/pages/resource-versions.js";

const root = document.getElementById("resource");
const name = root.dataset.name;
const path = `/resources/${name.split("/").map(encodeURIComponent).join("/")}`;

/** Where to go next with this model, by kind: the pages that run it with it already chosen. */
function nextSteps(resource) {
  if (!resource.latest_version || !resource.permissions.includes("use")) return null;
  const ref = encodeURIComponent(resource.ref);
  const links = resource.kind === "segmenter.sam"
    ? [["/segment?resource=" + ref, "Segment with this model"]]
    : resource.kind.startsWith("classifier.")
      ? [[`/train?resource=${encodeURIComponent(resource.name)}`, "Train from this model"], [`/evaluate?resource=${ref}`, "Evaluate"]]
      : [];
  return links.length ? el("p", { class: "row", id: "next-steps" },
    links.map(([href, text], i) => el("a", { class: i ? "button secondary" : "button", href }, text))) : null;
}

function details(resource) {
  const rights = resource.permissions.length ? resource.permissions.join(", ") : "none";
  return el("div", { class: "card" },
    el("h2", {}, resource.title),
    el("p", { class: "mono" }, resource.ref),
    el("p", {}, `${resource.kind} · by ${resource.owner} · ${resource.visibility}${resource.download ? "" : " · run-only"}`),
    sourcesNote(resource),
    resource.description ? el("p", {}, resource.description) : null,
    resource.citation ? el("p", {}, el("strong", {}, "Cite: "), resource.citation) : null,
    resource.license ? el("p", {}, el("strong", {}, "License: "), resource.license) : null,
    el("p", {}, el("strong", {}, "Latest version: "), resource.latest_version ? `v${resource.latest_version}` : "none yet"),
    el("p", { id: "your-rights" }, el("strong", {}, "Your rights: "), rights),
    nextSteps(resource),
    resource.permissions.includes("modify")
      ? el("p", { class: "row" },
        el("a", { class: "button secondary", href: `/provide?resource=${encodeURIComponent(resource.name)}` }, "Upload a new version"),
        resource.permissions.includes("own")
          ? el("a", { class: "button secondary", href: `/provide?resource=${encodeURIComponent(resource.name)}#rights` }, "Manage access")
          : null)
      : null,
  );
}

/** Versions of other visible resources whose parent is a version of this one (best effort). */
async function derivedElsewhere(resource) {
  const others = (await api("/resources?limit=200")).filter((r) => r.id !== resource.id && r.latest_version);
  const found = [];
  await Promise.all(others.slice(0, 50).map(async (other) => {
    try {
      for (const v of await api(`/resources/${other.ref.split("/").map(encodeURIComponent).join("/")}/versions`)) {
        if (v.parent_resource === resource.name) found.push({ ...v, resource: other.ref });
      }
    } catch { /* not ours to see */ }
  }));
  return found;
}

function notVisible(user) {
  // No form here: a request for something one cannot see would tell whether it exists.
  root.replaceChildren(el("p", { class: "notice", id: "not-visible" }, user
    ? `No model named “${name}” is visible to you. If it is private, ask its owner to share it with you: a grant to your user name (${user.username}) or to a group you are in. `
    : ["No public model is named “", name, "”. If it is private and shared with you, ",
      el("a", { href: `/signin?next=${encodeURIComponent(location.pathname)}` }, "sign in"), " to see it. "],
  el("a", { href: "/explore" }, "Explore the models you can see"), "."));
}

guarded(async () => {
  const user = await currentUser();
  let resource;
  try {
    resource = await api(path);
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 403)) throw error;
    notVisible(user);
    return;
  }
  document.title = `${resource.title} · Model Commons`;
  root.replaceChildren(details(resource));
  const [versions, derived] = await Promise.all([api(`${path}/versions`), derivedElsewhere(resource).catch(() => [])]);
  const canEdit = Boolean(user) && resource.permissions.includes("modify");
  const view = tabs([
    { id: "card", label: "Card", panel: cardPanel(resource, versions, canEdit) },
    { id: "files", label: "Files", panel: filesPanel(resource, versions) },
    { id: "try", label: "Try it", panel: tryItPanel(resource, user) },
    { id: "api", label: "API", panel: apiPanel(resource) },
    { id: "lineage", label: "Lineage", panel: lineagePanel(resource, versions, derived) },
    { id: "versions", label: "Versions", panel: versionsPanel(resource, versions, user) },
  ]);
  document.getElementById("model-tabs").replaceChildren(view.node);
  view.fromHash();
  await renderAccess(document.getElementById("access"), path, user, resource);
  if (user && resource.permissions.includes("own")) {
    const activity = await activityCard("resource", resource.id);
    if (activity) document.getElementById("activity-section").replaceChildren(activity);
  }
});
