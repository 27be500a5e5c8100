import { api, el, guarded, refreshInboxBadge, requireUser } from "/static/api.js";

const root = document.getElementById("inbox");
const box = document.getElementById("messages-box");
const readAll = document.getElementById("read-all");
const older = document.getElementById("older");
const PAGE = 50;
let shown = [];

const KIND_LABEL = {
  access_requested: "Request",
  access_approved: "Approved",
  access_denied: "Denied",
  task_finished: "Task",
};

/** Mark a message read, then go where it links (opening a message reads it). */
async function open(message) {
  if (!message.read_at) await api(`/notifications/${encodeURIComponent(message.id)}/read`, { method: "POST" });
  if (message.link) location.href = message.link;
  else await reload();
}

function item(message) {
  const label = el("span", { class: `inbox-kind ${message.kind}` }, KIND_LABEL[message.kind] || message.kind);
  const when = el("time", { datetime: message.created_at, class: "hint" }, new Date(message.created_at).toLocaleString());
  const text = message.link
    ? el("a", { href: message.link, onclick: (event) => { event.preventDefault(); guarded(() => open(message)); } }, message.text)
    : el("span", {}, message.text);
  const markRead = message.read_at
    ? null
    : el("button", { type: "button", class: "secondary", "aria-label": `Mark read: ${message.text}`, onclick: () => guarded(() => open({ ...message, link: "" })) }, "Mark read");
  return el("li", { class: message.read_at ? "inbox-item" : "inbox-item unread", "data-notification": message.id },
    label, " ", text, message.read_at ? null : el("span", { class: "visually-hidden" }, " (unread)"), " ", when, " ", markRead);
}

function render() {
  if (!shown.length) {
    box.replaceChildren(el("p", { class: "notice" }, "No messages yet. You will find here the answers to your access requests (",
      el("a", { href: "/explore" }, "explore models"), " to ask for one), requests for access to your models, and the end of each of your ",
      el("a", { href: "/tasks" }, "tasks"), "."));
  } else {
    box.replaceChildren(el("ul", { id: "messages", class: "inbox-list" }, shown.map(item)));
  }
  readAll.hidden = !shown.some((message) => !message.read_at);
}

async function page(before) {
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (before) query.set("before", before);
  const found = await api(`/notifications?${query}`);
  older.hidden = found.length < PAGE;
  return found;
}

async function reload() {
  shown = await page(null);
  render();
  await refreshInboxBadge();
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  readAll.addEventListener("click", () => guarded(async () => {
    await api("/notifications/read-all", { method: "POST" });
    await reload();
  }));
  older.addEventListener("click", () => guarded(async () => {
    shown = [...shown, ...(await page(shown[shown.length - 1].created_at))];
    render();
  }));
  await reload();
});
