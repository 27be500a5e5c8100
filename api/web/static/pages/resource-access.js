// Access on the model page: a signed-out visitor is told to sign in (and comes back here); a signed-in one is
// offered "Ask for access" only for the rights they lack — never `use` to someone who has it.
import { api, el, guarded } from "/static/api.js";

const OFFERS = [["use", "use: run tasks on this model"], ["modify", "modify: publish new versions and edit the card"]];

function askForm(path, owner, held, lacking) {
  const permission = el("select", { id: "ask-permission", name: "permission" },
    lacking.map(([value, text]) => el("option", { value }, text)));
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
      const sent = await api(`${path}/access-requests`, { method: "POST", json: { permission: permission.value, message: message.value } });
      form.replaceWith(el("p", { class: "notice", id: "ask-sent" },
        `Your request for the ${sent.permission} right was sent. You will have it once the owner approves.`));
    });
  });
  return form;
}

/** Fill `box` with the sign-in note, the pending requests and the form, or nothing when nothing is lacking. */
export async function renderAccess(box, path, user, resource) {
  if (!user) {
    const next = encodeURIComponent(location.pathname);
    box.replaceChildren(el("p", { class: "notice" }, "To use this model or ask for access, ",
      el("a", { href: `/signin?next=${next}` }, "sign in"), " or ", el("a", { href: `/signup?next=${next}` }, "sign up"), "."));
    return;
  }
  const held = resource.permissions;
  if (held.includes("use") && held.includes("modify")) {
    box.replaceChildren();
    return;
  }
  let mine = [];
  try {
    mine = (await api(`${path}/access-requests?status=pending`)).filter((r) => r.requester === user.username);
  } catch { /* the form still works */ }
  const waiting = new Set(mine.map((r) => r.permission));
  const lacking = OFFERS.filter(([right]) => !held.includes(right) && !waiting.has(right));
  box.replaceChildren(
    ...mine.map((r) => el("p", { class: "notice" }, `You asked for the ${r.permission} right; waiting for the owner's answer.`)),
    lacking.length ? askForm(path, resource.owner, held, lacking) : "",
  );
}
