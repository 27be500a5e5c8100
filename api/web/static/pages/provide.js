import { api, dropTarget, el, field, guarded, onSubmit, param, requireUser, resourcePath, select, showError } from "/static/api.js";
import { grantsCard, policyCard } from "/static/pages/sharing.js";

const root = document.getElementById("provide");
const KINDS = {
  "classifier.resnet": "Image classifier (ResNet)",
  "segmenter.sam": "Segment Anything (SAM)",
};
const enc = encodeURIComponent;

function setBadge(count) {
  const badge = document.getElementById("pending-badge");
  if (!badge) return;
  badge.textContent = String(count);
  badge.hidden = count === 0;
  badge.style.display = count === 0 ? "none" : ""; // app.css's .badge display would override [hidden]
}

// ---------------------------------------------------------------- create a resource

function createForm(onCreated) {
  const name = el("input", { type: "text", required: true, pattern: "[a-z0-9]([a-z0-9\\-]{0,62}[a-z0-9])?", autocomplete: "off" });
  const kind = select(Object.entries(KINDS), "classifier.resnet");
  const title = el("input", { type: "text", required: true, maxlength: "200" });
  const description = el("textarea", { rows: "3" });
  const citation = el("input", { type: "text" });
  const license = el("input", { type: "text", maxlength: "200" });
  const visibility = select([["private", "private: only you and those you grant"], ["public", "public: anyone may see it"]], "private");
  const form = el("form", { class: "card", id: "create-form" },
    el("h2", {}, "Create a resource"),
    field("new-name", "Name", name, "A slug used in URLs: lowercase letters, digits and '-'."),
    field("new-kind", "Kind", kind, "What the model is; decides the config of its versions."),
    field("new-title", "Title", title, "A human-readable title shown on Explore."),
    field("new-description", "Description", description, "What it does, what it was trained on."),
    field("new-citation", "Citation", citation, "How to cite the work this model comes from."),
    field("new-license", "License", license, "For example CC-BY-4.0 or Apache-2.0."),
    field("new-visibility", "Visibility", visibility, "You can grant rights on a private resource to chosen users."),
    el("p", {}, el("button", { type: "submit" }, "Create resource")),
  );
  onSubmit(form, async () => {
    const created = await api("/resources", {
      method: "POST",
      json: {
        name: name.value.trim(), kind: kind.value, title: title.value, description: description.value,
        citation: citation.value, license: license.value, visibility: visibility.value,
      },
    });
    form.reset();
    await onCreated(created);
  });
  return form;
}

// ---------------------------------------------------------------- upload a version

function configFields(kind, fileNames) {
  const checkpointOptions = (none) => [...(none ? [["", "none (architecture-only)"]] : []), ...fileNames.map((n) => [n, n])];
  if (kind === "segmenter.sam") {
    const arch = select([["vit_b", "vit_b (ViT-Base)"], ["vit_l", "vit_l (ViT-Large)"], ["vit_h", "vit_h (ViT-Huge)"]], "vit_b");
    const checkpoint = select(checkpointOptions(false), fileNames[0]);
    return {
      nodes: [
        field("cfg-arch", "Architecture", arch, "The image encoder the weights were trained with."),
        field("cfg-checkpoint", "Checkpoint", checkpoint,
          fileNames.length ? "The dropped file holding the weights." : "Drop the weights file above first (.pth or .safetensors)."),
      ],
      read: () => ({ arch: arch.value, checkpoint: checkpoint.value }),
    };
  }
  const arch = select([["resnet18", "resnet18"], ["resnet34", "resnet34"], ["resnet50", "resnet50"]], "resnet18");
  const classes = el("textarea", { rows: "4", required: true });
  const size = el("input", { type: "number", min: "16", max: "1024", value: "224", required: true });
  const checkpoint = select(checkpointOptions(true), "");
  return {
    nodes: [
      field("cfg-arch", "Architecture", arch, "The ResNet depth; deeper is slower and needs more data."),
      field("cfg-classes", "Classes", classes, "One class name per line, in the order of the model's outputs (at least two)."),
      field("cfg-input-size", "Input size", size, "Photos are resized to this many pixels square (224 for ImageNet weights)."),
      field("cfg-checkpoint", "Checkpoint", checkpoint, "A dropped weights file, or none to publish an untrained architecture."),
    ],
    read: () => {
      const config = {
        arch: arch.value,
        classes: classes.value.split("\n").map((line) => line.trim()).filter(Boolean),
        input_size: Number(size.value),
      };
      if (checkpoint.value) config.checkpoint = checkpoint.value;
      return config;
    },
  };
}

function uploadForm(resource, versions, onPublished) {
  let chosen = [];
  const input = el("input", {
    type: "file", multiple: true, id: "version-files", name: "files", "aria-describedby": "version-files-help",
  });
  const listing = el("ul", { class: "hint", id: "chosen-files", "aria-live": "polite" });
  const zone = el("div", { class: "dropzone" },
    el("label", { for: "version-files" }, "Files"),
    el("p", { class: "hint", id: "version-files-help" },
      "Drop weights and other files here, or choose them. Leave empty for an architecture-only classifier."),
    input);
  const configBox = el("div", { id: "config-fields" });
  let config;
  const renderConfig = () => {
    config = configFields(resource.kind, chosen.map((f) => f.name));
    configBox.replaceChildren(...config.nodes);
  };
  const setFiles = (files) => {
    chosen = Array.from(files);
    listing.replaceChildren(...chosen.map((f) => el("li", {}, `${f.name} (${f.size.toLocaleString()} bytes)`)));
    renderConfig();
  };
  input.addEventListener("change", () => setFiles(input.files));
  dropTarget(zone, (files) => { if (files.length) setFiles(files); });
  renderConfig();

  // No parent unless the provider names one: a plain upload is not "trained from" the latest version (issue 17).
  const parent = select([["", "none: a new start"], ...versions.map((v) => [String(v.version), `v${v.version}`])], "");
  const metrics = el("textarea", { rows: "2", placeholder: '{"accuracy": 0.91}' });
  const form = el("form", { class: "card", id: "upload-form" },
    el("h2", {}, `Upload a new version of ${resource.name}`),
    el("p", { class: "hint" }, `Kind ${resource.kind}; latest version ${resource.latest_version ? `v${resource.latest_version}` : "none"}.`),
    zone, listing,
    el("fieldset", {}, el("legend", {}, "Config"), configBox),
    field("version-parent", "Derives from", parent, "The version this one was trained or changed from (its lineage)."),
    field("version-metrics", "Reported metrics (JSON)", metrics, "Optional figures from your paper, e.g. {\"accuracy\": 0.91}."),
    el("p", {}, el("button", { type: "submit" }, "Publish version")),
    el("div", { id: "publish-result", "aria-live": "polite" }),
  );
  onSubmit(form, async () => {
    const body = new FormData();
    body.append("config", JSON.stringify(config.read()));
    for (const file of chosen) body.append("files", file, file.name);
    if (parent.value) body.append("parent", parent.value);
    if (metrics.value.trim()) body.append("reported_metrics", metrics.value.trim());
    const made = await api(`/resources/${enc(resource.name)}/versions`, { method: "POST", form: body });
    await onPublished(made);
  });
  return form;
}

// ---------------------------------------------------------------- rights and requests

function requestsSection(requests, refresh) {
  const body = requests.length
    ? el("div", { class: "table-wrap" }, el("table", { id: "requests" },
      el("thead", {}, el("tr", {}, ["Resource", "From", "Right", "Message", "Asked", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, requests.map((r) => {
        const path = resourcePath({ ref: r.ref || r.resource });
        const decide = (verb) => () => guarded(async () => {
          await api(`${path}/access-requests/${enc(r.id)}/${verb}`, { method: "POST" });
          await refresh();
        });
        // A request on something made from one's own model or dataset: its owner decides; one may let the
        // requester read the source (a grant) or release its derivatives.
        const answer = r.made_from_yours
          ? el("td", { class: "hint" }, `Made from your ${r.made_from_yours}: its owner decides; grant ${r.requester} your source or release its derivatives to let them read it.`)
          : el("td", { class: "row" },
            el("button", { type: "button", "aria-label": `Approve ${r.permission} for ${r.requester} on ${r.ref || r.resource}`, onclick: decide("approve") }, "Approve"),
            el("button", { type: "button", class: "secondary", "aria-label": `Deny ${r.permission} for ${r.requester} on ${r.ref || r.resource}`, onclick: decide("deny") }, "Deny"));
        return el("tr", { "data-request": r.id },
          el("td", {}, el("a", { href: path }, r.ref || r.resource)),
          el("td", {}, r.group ? `${r.requester} for group ${r.group}` : r.requester), el("td", {}, r.permission), el("td", {}, r.message || "—"),
          el("td", {}, new Date(r.created_at).toLocaleString()),
          answer);
      }))))
    : el("p", { class: "hint" }, "No access requests are waiting for your answer.");
  return el("section", { class: "card", id: "pending", "aria-labelledby": "pending-heading" },
    el("h2", { id: "pending-heading" }, "Access requests awaiting your answer"), body);
}

// ---------------------------------------------------------------- the page

guarded(async () => {
  if (!(await requireUser(root))) return;
  const requestsBox = el("div");
  const pickerBox = el("div");
  const manageBox = el("div", { id: "manage" });
  let selected = param("resource");

  async function loadRequests() {
    const pending = await api("/access-requests?status=pending");
    setBadge(pending.length);
    requestsBox.replaceChildren(requestsSection(pending, async () => { await loadRequests(); await loadManaged(); }));
  }

  async function loadManaged() {
    manageBox.replaceChildren();
    if (!selected) return;
    const resource = await api(`/resources/${enc(selected)}`);
    const versions = await api(`/resources/${enc(selected)}/versions`);
    const parts = [];
    if (resource.permissions.includes("modify")) {
      parts.push(uploadForm(resource, versions, async (made) => {
        await loadManaged();
        manageBox.prepend(el("p", { class: "notice", id: "published" }, `Published version ${made.version} of ${made.resource}. `,
          el("a", { href: `/resources/${enc(made.resource)}` }, "See it on its page"), "."));
      }));
    }
    if (resource.permissions.includes("own")) {
      const path = `/resources/${enc(selected)}`;
      const grants = await api(`${path}/grants`);
      parts.push(grantsCard(path, resource.name, grants, loadManaged));
      parts.push(policyCard(path, resource, loadManaged, { download: true }));
    }
    manageBox.replaceChildren(...parts);
  }

  async function loadPicker() {
    const mine = (await api("/resources?limit=500"))
      .filter((r) => r.permissions.includes("own") || r.permissions.includes("modify"));
    if (selected && !mine.some((r) => r.name === selected)) {
      showError(`You cannot publish to “${selected}”: you need the modify right. Ask for it on the model's page.`);
      selected = null;
    }
    if (!mine.length) {
      pickerBox.replaceChildren(el("p", { class: "notice" }, "You own no resources and may modify none yet; create one below."));
      return;
    }
    if (!selected) selected = mine[0].name;
    const picker = select(mine.map((r) => [r.name, `${r.title} (${r.name}${r.permissions.includes("own") ? "" : ", shared with you"})`]), selected);
    picker.addEventListener("change", () => guarded(async () => {
      selected = picker.value;
      history.replaceState(null, "", `/provide?resource=${enc(selected)}`);
      await loadManaged();
    }));
    pickerBox.replaceChildren(el("section", { class: "card" }, el("h2", {}, "Your resources"),
      field("pick-resource", "Resource to manage", picker, "Resources you own or may modify."),
      el("p", {}, el("a", { href: `/resources/${enc(selected)}`, id: "open-resource" }, "Open its page"))));
    picker.addEventListener("change", () => { document.getElementById("open-resource").href = `/resources/${enc(picker.value)}`; });
  }

  root.replaceChildren(requestsBox, pickerBox, manageBox, createForm(async (created) => {
    selected = created.name;
    history.replaceState(null, "", `/provide?resource=${enc(selected)}`);
    await loadPicker();
    await loadManaged();
    manageBox.prepend(el("p", { class: "notice" }, `Created ${created.name}. Upload its first version below.`));
  }));
  await loadRequests();
  await loadPicker();
  await loadManaged();
});
