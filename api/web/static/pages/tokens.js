import { api, el, guarded, requireUser } from "/static/api.js";

const form = document.getElementById("token-form");
const result = document.getElementById("token-result");
const list = document.getElementById("token-list");

const when = (value) => (value ? new Date(value).toLocaleString() : "—");

function state(token) {
  if (token.revoked_at) return "revoked";
  if (token.expires_at && new Date(token.expires_at) <= new Date()) return "expired";
  return "active";
}

async function showTokens() {
  const tokens = await api("/users/me/tokens");
  if (!tokens.length) {
    list.replaceChildren(el("p", { class: "hint" }, "No tokens yet."));
    return;
  }
  list.replaceChildren(el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["Name", "Starts with", "Created", "Expires", "Last used", "State", ""].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, tokens.map((token) => el("tr", { "data-token": token.name },
      el("td", {}, token.name), el("td", { class: "mono" }, `${token.prefix}…`), el("td", {}, when(token.created_at)),
      el("td", {}, token.expires_at ? when(token.expires_at) : "never"), el("td", {}, when(token.last_used_at)),
      el("td", { class: `status ${state(token) === "active" ? "succeeded" : "failed"}` }, state(token)),
      el("td", {}, state(token) === "active"
        ? el("button", { type: "button", class: "danger", "aria-label": `Revoke ${token.name}`, onclick: () => guarded(async () => {
          await api(`/users/me/tokens/${token.id}`, { method: "DELETE" });
          await showTokens();
        }) }, "Revoke")
        : null),
    ))),
  )));
}

// The listener is attached at once, so a quick click never falls through to a native form submit.
form.addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const days = document.getElementById("token-expiry").value;
    const created = await api("/users/me/tokens", {
      method: "POST",
      json: { name: document.getElementById("token-name").value, expires_in_days: days ? Number(days) : null },
    });
    result.hidden = false;
    result.replaceChildren(
      el("p", {}, `Token “${created.name}” — copy it now, it is not shown again:`),
      el("p", { class: "mono", id: "new-token" }, created.token),
      el("p", { class: "hint" }, `curl -H "Authorization: Bearer ${created.prefix}…" ${location.origin}/api/v1/users/me`),
    );
    form.reset();
    await showTokens();
  });
});

guarded(async () => {
  if (!(await requireUser(document.getElementById("tokens")))) return;
  await showTokens();
});
