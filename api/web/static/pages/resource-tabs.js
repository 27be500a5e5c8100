// The model page's tabs (Card, Files, Try it, API, Lineage, Versions): buttons in a tablist, one panel shown.
// Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern); the URL's #hash names the open tab,
// so a link such as /resources/alice/pets#try opens the try-it box, and #version-2 opens the versions.
import { el } from "/static/api.js";

/** tabs([{id, label, panel}]) → {node, open(id)}; each panel is an element shown while its tab is selected. */
export function tabs(items) {
  const buttons = items.map((item) => el("button", {
    type: "button", role: "tab", id: `tab-${item.id}`, "aria-controls": `panel-${item.id}`, class: "tab",
  }, item.label));
  const panels = items.map((item) => {
    item.panel.id = `panel-${item.id}`;
    item.panel.setAttribute("role", "tabpanel");
    item.panel.setAttribute("aria-labelledby", `tab-${item.id}`);
    item.panel.setAttribute("tabindex", "0");
    item.panel.classList.add("tab-panel");
    return item.panel;
  });

  function open(id, { focus = false } = {}) {
    const index = Math.max(0, items.findIndex((item) => item.id === id));
    buttons.forEach((button, i) => {
      button.setAttribute("aria-selected", String(i === index));
      button.tabIndex = i === index ? 0 : -1;
      panels[i].hidden = i !== index;
    });
    if (focus) buttons[index].focus();
    return items[index].id;
  }

  buttons.forEach((button, i) => {
    button.addEventListener("click", () => history.replaceState(null, "", `#${open(items[i].id)}`));
    button.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: items.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = (moves[event.key] + items.length) % items.length;
      history.replaceState(null, "", `#${open(items[next].id, { focus: true })}`);
    });
  });

  const fromHash = () => {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith("version-")) {
      open("versions");
      document.getElementById(hash)?.scrollIntoView({ block: "start" });
    } else {
      open(items.some((item) => item.id === hash) ? hash : items[0].id);
    }
  };
  window.addEventListener("hashchange", fromHash);
  const node = el("div", { class: "tabs" },
    el("div", { role: "tablist", "aria-label": "Model page sections", class: "tablist" }, buttons), panels);
  return { node, open, fromHash };
}
