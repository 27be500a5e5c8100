import { api, el, guarded, onSubmit, requireUser, setToken } from "/static/api.js";

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
      el("td", { "data-expires": token.expires_at || "" }, token.expires_at ? when(token.expires_at) : "never (made before expiries)"),
      el("td", {}, when(token.last_used_at)),
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
onSubmit(form, async () => {
  const days = document.getElementById("token-expiry").value;
  const created = await api("/users/me/tokens", {
    method: "POST",
    json: { name: document.getElementById("token-name").value, expires_in_days: Number(days) },
  });
  result.hidden = false;
  result.replaceChildren(
    el("p", {}, `Token “${created.name}” — copy it now, it is not shown again. It expires ${when(created.expires_at)}.`),
    el("p", { class: "mono", id: "new-token" }, created.token),
    el("p", { class: "hint" }, `curl -H "Authorization: Bearer ${created.prefix}…" ${location.origin}/api/v1/users/me`),
  );
  form.reset();
  await showTokens();
});

const passwordForm = document.getElementById("password-form");
onSubmit(passwordForm, async () => {
  const changed = await api("/users/me/password", {
    method: "POST",
    json: {
      current_password: document.getElementById("current-password").value,
      new_password: document.getElementById("new-password").value,
    },
  });
  setToken(changed.access_token); // every session ended, this one too: keep the new token the answer carries
  passwordForm.reset();
  const done = document.getElementById("password-result");
  done.textContent = changed.detail;
  done.hidden = false;
});

guarded(async () => {
  const user = await requireUser(document.getElementById("tokens"));
  if (!user) return;
  passwordForm.username.value = user.username; // for password managers
  await showTokens();
});
