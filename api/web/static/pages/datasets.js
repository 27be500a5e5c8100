import { api, datasetPath, el, guarded, requireUser } from "/static/api.js";

const root = document.getElementById("datasets");

function splitClasses(text) {
  return text.split(/[,\n]/).map((name) => name.trim()).filter(Boolean);
}

function createForm() {
  const name = el("input", { id: "dataset-name", name: "name", type: "text", required: true, maxlength: 200 });
  const classes = el("input", { id: "dataset-classes", name: "classes", type: "text", placeholder: "e.g. cat, dog" });
  const description = el("textarea", { id: "dataset-description", name: "description", maxlength: 20000 });
  const form = el("form", { class: "card", id: "create-dataset" },
    el("h2", {}, "New dataset"),
    el("label", { for: "dataset-name" }, "Dataset name"), name,
    el("label", { for: "dataset-classes" }, "Classes ", el("span", { class: "hint" }, "(optional, separated by commas; you can add them later)")), classes,
    el("label", { for: "dataset-description" }, "Description ", el("span", { class: "hint" }, "(optional)")), description,
    el("p", {}, el("button", { type: "submit" }, "Create dataset")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const created = await api("/datasets", { method: "POST", json: {
        name: name.value.trim(), description: description.value, classes: splitClasses(classes.value),
      } });
      location.href = datasetPath(created);
    });
  });
  return form;
}

function table(datasets) {
  if (!datasets.length) return el("p", { class: "notice", id: "no-datasets" }, "No datasets yet: create one below, then add photos and label them.");
  return el("div", { class: "table-wrap" }, el("table", { id: "dataset-table" },
    el("thead", {}, el("tr", {}, ["Dataset", "Owner", "Photos", "Labelled", "Classes"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, datasets.map((d) => el("tr", { "data-dataset": d.id },
      el("td", {}, el("a", { href: datasetPath(d) }, d.name), d.visibility === "public" ? el("span", { class: "hint" }, " (public)") : null),
      el("td", {}, d.owner),
      el("td", {}, d.item_count),
      el("td", {}, d.labelled_count),
      el("td", {}, d.classes.length ? d.classes.join(", ") : el("span", { class: "hint" }, "none yet")),
    )))));
}

guarded(async () => {
  if (!(await requireUser(root))) return;
  const datasets = await api("/datasets?limit=200");
  root.replaceChildren(
    el("h2", {}, "Your and shared datasets"),
    table(datasets),
    createForm(),
  );
});
