import { api, el, guarded, requireUser } from "/static/api.js";

const root = document.getElementById("groups");
const form = document.getElementById("group-form");
const list = document.getElementById("group-list");
const enc = encodeURIComponent;

function memberForm(group) {
  const username = el("input", { type: "text", required: true, autocomplete: "off", id: `add-${group.name}`, name: "username" });
  const role = el("select", { id: `role-${group.name}`, name: "role" },
    el("option", { value: "member" }, "member"), el("option", { value: "maintainer" }, "maintainer"));
  const added = el("form", { class: "row", "data-add-member": group.name },
    el("div", {}, el("label", { for: username.id }, `Add a member to ${group.name}`), username),
    el("div", {}, el("label", { for: role.id }, "Role"), role),
    el("div", {}, el("button", { type: "submit" }, "Add member")));
  added.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      await api(`/groups/${enc(group.name)}/members`, { method: "POST", json: { username: username.value.trim(), role: role.value } });
      await showGroups();
    });
  });
  return added;
}

function groupCard(group) {
  const maintainer = group.your_role === "maintainer";
  return el("section", { class: "card", "data-group": group.name },
    el("h3", {}, group.title, " ", el("span", { class: "mono" }, `(${group.name})`)),
    el("p", { class: "hint" }, `Owner ${group.owner} · you are ${group.your_role || "an admin"}`),
    el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "hint" }, `Members of ${group.name}`),
      el("thead", {}, el("tr", {}, ["User", "Role", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, group.members.map((m) => el("tr", { "data-member": m.username },
        el("td", {}, m.username), el("td", {}, m.role),
        el("td", {}, maintainer
          ? el("button", { type: "button", class: "danger", "aria-label": `Remove ${m.username} from ${group.name}`,
            onclick: () => guarded(async () => {
              await api(`/groups/${enc(group.name)}/members/${enc(m.username)}`, { method: "DELETE" });
              await showGroups();
            }) }, "Remove")
          : null)))))),
    maintainer ? memberForm(group) : null);
}

async function showGroups() {
  const groups = await api("/groups");
  list.replaceChildren(...(groups.length ? groups.map(groupCard) : [el("p", { class: "hint" }, "You belong to no group yet.")]));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const name = document.getElementById("group-name");
    const title = document.getElementById("group-title");
    await api("/groups", { method: "POST", json: { name: name.value.trim(), title: title.value.trim() } });
    name.value = "";
    title.value = "";
    await showGroups();
  });
});

guarded(async () => {
  if (!(await requireUser(root))) return;
  await showGroups();
});
