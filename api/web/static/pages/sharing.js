// Sharing panels used by the resource, dataset and provide pages: who holds which right (grants to users,
// groups or everyone), the owner's policy (visibility, derivatives, download), what an item was made from,
// and its Activity (the audit trail of the item, for its owner).
import { api, el, field, guarded, select } from "/static/api.js";

const enc = encodeURIComponent;

function grantee(g) {
  if (g.group) return `group ${g.group}`;
  return g.username === "*" ? "* (everyone)" : g.username;
}

/** The grants table and the grant form. `path` is the item's API path (…/resources/NAME or …/datasets/ID). */
export function grantsCard(path, itemName, grants, refresh, { id = "rights" } = {}) {
  const who = select([["user", "a user (or * for everyone)"], ["group", "a group"]], "user");
  const name = el("input", { type: "text", required: true, autocomplete: "off" });
  const permission = select([["use", "use: run tasks"], ["modify", "modify: publish versions / change contents"]], "use");
  const form = el("form", { class: "row", id: `${id}-grant-form` },
    field(`${id}-grant-kind`, "Grant to", who, "A group reaches every member while they are members."),
    field(`${id}-grant-username`, "User name (or group name)", name, "A user name, * for everyone, or a group's name."),
    field(`${id}-grant-permission`, "Right", permission, "modify includes use."),
    el("div", {}, el("button", { type: "submit" }, "Grant")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = who.value === "group"
        ? { group: name.value.trim(), permission: permission.value }
        : { username: name.value.trim(), permission: permission.value };
      await api(`${path}/grants`, { method: "POST", json: body });
      await refresh();
    });
  });
  const table = grants.length
    ? el("div", { class: "table-wrap" }, el("table", { id: id === "rights" ? "grants" : `${id}-grants` },
      el("caption", { class: "hint" }, `Rights granted on ${itemName} (you own it and hold every right)`),
      el("thead", {}, el("tr", {}, ["Who", "Right", "Granted by", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, grants.map((g) => el("tr", { "data-grant": g.id },
        el("td", {}, grantee(g)),
        el("td", {}, g.permission),
        el("td", {}, g.created_by),
        el("td", {}, el("button", {
          type: "button", class: "danger", "aria-label": `Revoke ${g.permission} from ${grantee(g)}`,
          onclick: () => guarded(async () => {
            await api(`${path}/grants/${enc(g.id)}`, { method: "DELETE" });
            await refresh();
          }),
        }, "Revoke")),
      )))))
    : el("p", { class: "hint" }, "Nobody else holds a right yet.");
  return el("section", { class: "card", id, "aria-labelledby": `${id}-heading` },
    el("h2", { id: `${id}-heading` }, `Who has which right on ${itemName}`), table,
    el("h3", {}, "Grant a right"), form);
}

/** The owner's policy: visibility, what may be done with derivatives, and (models) whether files download. */
export function policyCard(path, item, refresh, { download = false } = {}) {
  const visibility = select([["private", "private: only you and those you grant"], ["public", "public: anyone may see it"]], item.visibility);
  const derivatives = select([
    ["private", "private: what others make from it stays within this item's audience"],
    ["open", "open: its makers may share what they make from it"],
  ], item.derivatives);
  const files = download ? select([["true", "yes: those who may read it may download its files"], ["false", "no: run-only, files for you alone"]], String(item.download)) : null;
  const form = el("form", { class: "card", id: "policy" },
    el("h2", {}, "Policy (owner only)"),
    field("policy-visibility", "Visibility", visibility, "A copy made from a private source that keeps its derivatives cannot be made public."),
    field("policy-derivatives", "Derivatives", derivatives, "Trained, edited or exported copies; augmented datasets; models trained on a dataset."),
    files ? field("policy-download", "Downloads", files, "Run-only still lets those you grant run tasks on it.") : null,
    el("p", {}, el("button", { type: "submit" }, "Save policy")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = { visibility: visibility.value, derivatives: derivatives.value };
      if (files) body.download = files.value === "true";
      await api(path, { method: "PATCH", json: body });
      await refresh();
    });
  });
  return form;
}

/** "Made from …": the sources an item is bound by (or not). */
export function sourcesNote(item) {
  if (!item.sources || !item.sources.length) return null;
  const href = (s) => (s.type === "resource" ? `/resources/${enc(`${s.owner}/${s.name}`)}` : `/datasets/${enc(s.id)}`);
  return el("p", { class: "lineage", id: "sources" }, "Made from ",
    item.sources.flatMap((s, i) => [i ? ", " : "",
      s.readable === false ? `a private ${s.type}` : el("a", { href: href(s) }, `${s.type} ${s.name}`), ` of ${s.owner}`,
      s.binds ? el("span", { class: "hint" }, " (private: this copy stays within its audience)") : ""]), ".");
}

/** The Activity panel: the audit trail of one item (its owner sees it; others get nothing). */
export async function activityCard(targetType, targetId) {
  let events;
  try {
    events = await api(`/audit?target_type=${targetType}&target_id=${enc(targetId)}&limit=50`);
  } catch {
    return null;
  }
  const describe = (e) => {
    const d = e.detail || {};
    switch (e.action) {
      case "grant.create": return `granted ${d.permission} to ${d.to}`;
      case "grant.revoke": return `revoked ${d.permission} from ${d.from}`;
      case "request.approve": return `approved ${d.requester}'s request for ${d.permission}`;
      case "request.deny": return `denied ${d.requester}'s request for ${d.permission}`;
      case "visibility.change": return `made it ${d.to}`;
      case "policy.change": return `set ${d.field} to ${d.to}`;
      case "task.submit": return `ran ${/^[aeiou]/.test(d.mode || "") ? "an" : "a"} ${d.mode} task${d.version ? ` on version ${d.version}` : ""}`;
      case "file.download": return `downloaded ${d.file} of version ${d.version}`;
      case "item.delete": return "deleted a photo";
      default: return e.action;
    }
  };
  return el("section", { class: "card", id: "activity", "aria-labelledby": "activity-heading" },
    el("h2", { id: "activity-heading" }, "Activity"),
    events.length
      ? el("ul", { id: "activity-list" }, events.map((e) => el("li", { "data-action": e.action },
        el("strong", {}, e.actor), " ", describe(e), el("span", { class: "hint" }, ` · ${new Date(e.at).toLocaleString()}`))))
      : el("p", { class: "hint" }, "Nothing recorded yet: grants, policy changes, downloads and others' tasks show here."));
}
