// The dataset page's Sharing section: access requests. The owner answers pending requests (Approve grants the
// right; the grants table below, from sharing.js's grantsCard, shows and revokes it); anyone else who may see
// the dataset asks for the rights they lack and sees where their own requests stand.
import { api, datasetPath, el, field, guarded, onSubmit } from "/static/api.js";

const enc = encodeURIComponent;
const RIGHTS = {
  use: "use: read its photos, train and augment on it",
  modify: "modify: add, label and delete photos (includes use)",
};

const when = (iso) => new Date(iso).toLocaleString();
const who = (r) => (r.group ? `${r.requester} for group ${r.group}` : r.requester);

function heading(text) {
  return el("h2", { id: "dataset-sharing-heading" }, text);
}

/** The owner's pending requests, each with Approve and Deny. */
function pendingTable(path, requests, decided) {
  if (!requests.length) return el("p", { class: "hint", id: "no-dataset-requests" }, "No access requests are waiting for your answer.");
  const decide = (r, verb) => () => guarded(async () => {
    await api(`${path}/access-requests/${enc(r.id)}/${verb}`, { method: "POST" });
    await decided();
  });
  return el("div", { class: "table-wrap" }, el("table", { id: "dataset-requests" },
    el("caption", { class: "hint" }, "Access requests awaiting your answer"),
    el("thead", {}, el("tr", {}, ["From", "Right", "Message", "Asked", ""].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, requests.map((r) => el("tr", { "data-request": r.id },
      el("td", {}, who(r)), el("td", {}, r.permission), el("td", {}, r.message || "—"), el("td", {}, when(r.created_at)),
      el("td", { class: "row" },
        el("button", { type: "button", "aria-label": `Approve ${r.permission} for ${who(r)}`, onclick: decide(r, "approve") }, "Approve"),
        el("button", { type: "button", class: "secondary", "aria-label": `Deny ${r.permission} for ${who(r)}`, onclick: decide(r, "deny") }, "Deny")))))));
}

/** Where the caller's own requests stand: the latest for each right, unless approved and since revoked. */
function ownState(mine, owner, held) {
  const latest = new Map();
  for (const r of mine) latest.set(r.permission, r); // oldest first: the last one per right wins
  const current = [...latest.values()].filter((r) => r.status !== "approved" || held.includes(r.permission));
  return current.map((r) => {
    if (r.status === "pending") {
      return el("p", { class: "notice", "data-request-state": "pending" },
        `You asked for the ${r.permission} right on ${when(r.created_at)}; waiting for ${owner}'s answer.`);
    }
    return el("p", { class: r.status === "denied" ? "hint" : "notice", "data-request-state": r.status },
      `${r.decided_by || owner} ${r.status} your request for the ${r.permission} right${r.decided_at ? ` on ${when(r.decided_at)}` : ""}.`);
  });
}

/** The form to ask for one of `rights` (those the caller lacks and has not asked for yet). */
function askForm(path, dataset, rights, asked) {
  const permission = el("select", {}, rights.map((p) => el("option", { value: p }, RIGHTS[p])));
  const message = el("textarea", { maxlength: "2000", rows: "3" });
  const form = el("form", { id: "dataset-ask-form" },
    el("h3", {}, "Ask for access"),
    el("p", { class: "hint" }, `Your request goes to ${dataset.owner}, who can approve or deny it; you will hear in your inbox.`),
    field("dataset-ask-permission", "Right to ask for", permission),
    field("dataset-ask-message", "Message to the owner", message, "Optional: who you are and what you need it for."),
    el("p", {}, el("button", { type: "submit" }, "Ask for access")));
  onSubmit(form, async () => {
    await api(`${path}/access-requests`, { method: "POST", json: { permission: permission.value, message: message.value.trim() } });
    await asked();
  });
  return form;
}

async function ownerView(section, path, dataset, onDecided) {
  const pending = await api(`${path}/access-requests?status=pending`);
  const decided = async () => {
    await ownerView(section, path, dataset, onDecided);
    if (onDecided) await onDecided();
  };
  section.replaceChildren(heading("Sharing"),
    el("p", { class: "hint" }, "People who may see this dataset can ask you for a right. Approving grants it; ",
      "grant or revoke rights yourself under “Who has which right”."),
    pendingTable(path, pending, decided));
}

async function askerView(section, path, dataset) {
  const held = dataset.permissions || [];
  const lacking = ["use", "modify"].filter((p) => !held.includes(p));
  if (!lacking.length) {
    section.remove();
    return;
  }
  const mine = await api(`${path}/access-requests`);
  const waiting = new Set(mine.filter((r) => r.status === "pending").map((r) => r.permission));
  const askable = lacking.filter((p) => !waiting.has(p));
  section.replaceChildren(heading("Sharing"),
    el("p", { id: "dataset-your-rights" }, held.length
      ? `You hold ${held.join(" and ")} on this dataset; ${dataset.owner} may grant you more.`
      : `You may look at this public dataset. To train or augment on it, or to change it, ask ${dataset.owner} for a right.`),
    ...ownState(mine, dataset.owner, held),
    askable.length ? askForm(path, dataset, askable, () => askerView(section, path, dataset)) : "");
}

/** Add the Sharing section to `root`. `onDecided` runs after the owner approves or denies (to refresh the grants). */
export async function mountDatasetSharing(root, dataset, { onDecided } = {}) {
  const section = el("section", { class: "card", id: "dataset-sharing", "aria-labelledby": "dataset-sharing-heading" });
  root.append(section);
  const path = datasetPath(dataset);
  if ((dataset.permissions || []).includes("own")) await ownerView(section, path, dataset, onDecided);
  else await askerView(section, path, dataset);
}
