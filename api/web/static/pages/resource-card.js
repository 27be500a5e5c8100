// The Card tab: a version's model card, rendered (Markdown sanitised by the server), and for the owner and
// `modify` holders an editor with a preview. An empty card's editor starts from the server's template
// (intended use, limitations, training data, citation, licence), filled from the resource's own fields.
import { api, el, guarded } from "/static/api.js";

/** Put the server's sanitised card HTML into `target` (parsed inertly first: no script in it ever runs). */
function showHtml(target, html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  target.replaceChildren(...parsed.body.childNodes);
}

function written(card) {
  if (!card.updated_at) return null;
  return el("p", { class: "hint", id: "card-written" },
    `Written by ${card.updated_by || "someone"} on ${new Date(card.updated_at).toLocaleString()}.`);
}

function editor(cardPath, card, onSaved, onCancel) {
  const text = el("textarea", { id: "card-markdown", name: "markdown", rows: "16", spellcheck: "true",
    "aria-describedby": "card-markdown-help" }, card.markdown || card.template);
  const preview = el("div", { class: "model-card preview", id: "card-preview", "aria-live": "polite" });
  const status = el("span", { class: "hint", role: "status" });
  const form = el("form", { class: "card-editor", id: "card-editor" },
    el("label", { for: "card-markdown" }, "Card (Markdown)"),
    el("p", { class: "hint", id: "card-markdown-help" }, card.markdown ? "" : "A template to start from: replace the parts in italics. ",
      "Markdown: # headings, - lists, [links](https://…), | tables |. HTML is shown as text; images appear as links."),
    text,
    el("p", { class: "row" },
      el("button", { type: "button", class: "secondary", id: "card-preview-button", onclick: () => guarded(async () => {
        const shown = await api(`${cardPath}?preview=true`, { method: "PUT", json: { markdown: text.value } });
        if (shown.html) showHtml(preview, shown.html);
        else preview.replaceChildren(el("p", { class: "hint" }, "(an empty card)"));
        status.textContent = "Preview below; not saved yet.";
      }) }, "Preview"),
      el("button", { type: "submit" }, "Save card"),
      el("button", { type: "button", class: "secondary", onclick: onCancel }, "Cancel"),
      status),
    el("h3", { class: "hint" }, "Preview"), preview);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => onSaved(await api(cardPath, { method: "PUT", json: { markdown: text.value } })));
  });
  return form;
}

/** The Card tab's panel for `resource` (with `versions`, oldest first); `canEdit`: owner or modify holder. */
export function cardPanel(resource, versions, canEdit) {
  const panel = el("section", { "aria-label": "Model card" });
  if (!versions.length) {
    panel.append(el("p", { class: "notice" }, "No version yet, so no card: a card belongs to a version."));
    return panel;
  }
  const base = `/resources/${resource.ref.split("/").map(encodeURIComponent).join("/")}`;
  const picker = el("select", { id: "card-version" }, versions.slice().reverse().map((v) =>
    el("option", { value: String(v.version) }, `version ${v.version}${v.version === resource.latest_version ? " (latest)" : ""}`)));
  const body = el("div", { class: "model-card", id: "model-card" });
  const tools = el("div", { id: "card-tools" });

  async function show(card) {
    const path = `${base}/versions/${picker.value}/card`;
    card = card || await api(path);
    if (card.html) showHtml(body, card.html);
    else body.replaceChildren(el("p", { class: "notice", id: "no-card" }, `Version ${picker.value} has no card yet.`,
      canEdit ? " Write one: say what the model is for, where it fails, what it learnt from, how to cite it and its licence." : ""));
    const edit = canEdit ? el("button", { type: "button", id: "edit-card", onclick: () => {
      tools.replaceChildren(editor(path, card, (saved) => show(saved), () => show(card)));
      body.hidden = true;
      document.getElementById("card-markdown").focus();
    } }, card.markdown ? "Edit card" : "Write the card") : null;
    body.hidden = false;
    tools.replaceChildren(written(card) || "", edit || "");
  }

  picker.addEventListener("change", () => guarded(() => show()));
  if (versions.length > 1) panel.append(el("div", { class: "row" }, el("label", { for: "card-version" }, "Card of"), picker));
  panel.append(body, tools);
  guarded(() => show());
  return panel;
}
