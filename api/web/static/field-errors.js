// Errors next to the control they are about: a message under the control, tied to it for screen readers
// (aria-describedby, aria-invalid), the first such control focused. Used by api.js's showError.

let lastForm = null;
document.addEventListener("submit", (event) => { lastForm = event.target; }, true);

/** The visible control a field path names ("username", "config.arch"): by name, id or data-field, in the form
 * submitted last first, then anywhere in the page's main part. */
function controlFor(path) {
  const quoted = CSS.escape(path);
  const selector = `[name="${quoted}"], #${quoted}, [data-field="${quoted}"]`;
  const scopes = [lastForm && lastForm.isConnected ? lastForm : null, document.getElementById("main") || document];
  for (const scope of scopes) {
    if (!scope) continue;
    const found = [...scope.querySelectorAll(selector)].find((node) => node.type !== "hidden" && node.getClientRects().length > 0);
    if (found) return found;
  }
  return null;
}

/** Remove every message placed by placeFieldErrors and restore the controls' descriptions. */
export function clearFieldErrors() {
  for (const message of document.querySelectorAll(".field-error")) message.remove();
  for (const control of document.querySelectorAll("[aria-invalid][data-described]")) {
    control.removeAttribute("aria-invalid");
    const before = control.dataset.described;
    if (before) control.setAttribute("aria-describedby", before);
    else control.removeAttribute("aria-describedby");
    delete control.dataset.described;
  }
}

/** Show `message` under `control`, tie it to the control for screen readers, and mark the control invalid. */
function placeOne(control, message) {
  if (!control.id) control.id = `field-${Math.random().toString(36).slice(2, 10)}`;
  const note = document.createElement("p");
  note.className = "field-error";
  note.id = `${control.id}-error`;
  note.textContent = message;
  const wrapper = control.closest("label");
  (wrapper && wrapper.contains(control) ? wrapper : control).after(note);
  if (!control.hasAttribute("data-described")) control.dataset.described = control.getAttribute("aria-describedby") || "";
  control.setAttribute("aria-describedby", [control.dataset.described, note.id].filter(Boolean).join(" "));
  control.setAttribute("aria-invalid", "true");
}

/** Place each {field, message} next to its control; focus the first. Returns how many were placed and the
 * messages ("field: message") of those whose control is not on the page. */
export function placeFieldErrors(items) {
  const placed = [];
  const left = [];
  for (const item of items) {
    const control = controlFor(item.field);
    if (control && !placed.includes(control)) {
      placeOne(control, item.message);
      placed.push(control);
    } else if (!control) {
      left.push(`${item.field}: ${item.message}`);
    }
  }
  if (placed.length) {
    placed[0].focus();
    placed[0].scrollIntoView({ block: "nearest" });
  }
  return { placed: placed.length, left };
}
