// Train page: where the trained weights go — a new model of the user's (named here), or the next version of one
// of their own models of the same kind (params.publish_as names it; see registry/trained_versions.resolve_target).
import { api, el } from "/static/api.js";

const KIND_WORDS = { "classifier.resnet": "ResNet", "classifier.blocks": "model from blocks" };
const NAME_PATTERN = "[a-z0-9]([a-z0-9\\-]*[a-z0-9])?";

function radio(id, value, text, checked) {
  const input = el("input", { type: "radio", id, name: "publish-mode", value, checked });
  return { input, label: el("label", { for: id, class: "choice" }, input, text) };
}

/** The "Publish as" fieldset. `user`: the signed-in user; `resources`: what GET /resources listed.
 * Returns { node, nameInput, value(), isNewModel(), forSource(source), reload() }. */
export function publishChoice(user, resources) {
  let listed = resources;
  let kind = null;
  const nameInput = el("input", { id: "publish-as", name: "publish_as", type: "text", required: true, maxlength: 64, size: 40,
    pattern: NAME_PATTERN, "aria-describedby": "publish-as-help" });
  const target = el("select", { id: "publish-to", name: "publish_to", disabled: true, "aria-describedby": "publish-to-help" });
  const asNew = radio("publish-new", "new", "New model", true);
  const asVersion = radio("publish-version", "version", "New version of my model", false);
  const targetHelp = el("span", { class: "hint", id: "publish-to-help" });
  const nameRow = el("div", { id: "publish-new-row" },
    el("label", { for: "publish-as" }, "New model name"), nameInput,
    el("div", { class: "hint", id: "publish-as-help" }, "Lowercase letters, digits and '-'; the trained weights become version 1 of it."));
  const targetRow = el("div", { id: "publish-version-row", hidden: true },
    el("label", { for: "publish-to" }, "Model to add a version to"), target, el("div", {}, targetHelp));
  const node = el("fieldset", { class: "toggle publish-choice", id: "publish-choice" },
    el("legend", {}, "Publish the trained weights as"),
    el("div", { class: "publish-modes" }, asNew.label, asVersion.label), nameRow, targetRow);

  const own = () => listed.filter((r) => r.owner === user.username && r.kind === kind && r.permissions.includes("modify"));
  const sync = () => {
    const version = asVersion.input.checked;
    nameRow.hidden = version;
    targetRow.hidden = !version;
    nameInput.disabled = version; // a disabled field is not validated, so the hidden one never blocks submitting
    target.disabled = !version;
  };
  const fill = (preferred) => {
    const mine = own();
    const before = preferred || target.value;
    target.replaceChildren(...mine.map((r) => el("option", { value: r.name },
      `${r.title || r.name} (${r.ref || r.name})${r.latest_version ? ` · now version ${r.latest_version}` : " · no version yet"}`)));
    if (mine.some((r) => r.name === before)) target.value = before;
    asVersion.input.disabled = !mine.length;
    const words = KIND_WORDS[kind] || kind;
    targetHelp.textContent = mine.length
      ? "The trained weights become its next version; its earlier versions stay as they are."
      : `You have no ${words} of your own yet: train a new model first; later trainings can add versions to it.`;
    if (!mine.length && asVersion.input.checked) asNew.input.checked = true;
  };
  for (const choice of [asNew, asVersion]) {
    choice.input.addEventListener("change", sync);
  }
  return {
    node,
    nameInput,
    isNewModel: () => !asVersion.input.checked,
    value: () => (asVersion.input.checked ? target.value : nameInput.value.trim()),
    /** The source model changed: list the user's models of its kind (their source itself first in line). */
    forSource(source) {
      kind = source ? source.kind : null;
      fill(source && source.owner === user.username ? source.name : undefined);
      sync();
    },
    /** Read the resource list again (after a training made a new model) and keep the choice. */
    async reload() {
      listed = await api("/resources?limit=500");
      fill();
      sync();
    },
  };
}
