// Evaluate page: the result of an evaluation on the chosen photos — figures, a shaded confusion matrix, per-class
// figures and the wrong-first grid, where a wrong photo's dataset label can be fixed (for those who may modify it).
import { api, el, guarded } from "/static/api.js";

const PAGE_SIZE = 24;
const ITEM_PAGE = 200;
const SHADES = 4; // cell shades 1..4 by count relative to the largest cell; 0 for an empty cell

const percent = (value) => (Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : "–");

/** Accuracy, right/wrong counts, the confusion matrix and per-class figures of `rows` (predictions.json rows). */
export function measure(rows, classes) {
  const index = new Map(classes.map((name, i) => [name, i]));
  const matrix = classes.map(() => classes.map(() => 0));
  for (const row of rows) {
    const truth = index.get(row.true), predicted = index.get(row.predicted);
    if (truth !== undefined && predicted !== undefined) matrix[truth][predicted] += 1;
  }
  const right = rows.filter((row) => row.true === row.predicted).length;
  const perClass = classes.map((name, i) => {
    const hits = matrix[i][i];
    const support = matrix[i].reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((sum, row) => sum + row[i], 0);
    const precision = predicted ? hits / predicted : 0, recall = support ? hits / support : 0;
    return { name, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
  return { count: rows.length, right, wrong: rows.length - right, accuracy: rows.length ? right / rows.length : NaN, matrix, perClass };
}

/** The shade class of a cell: 0 when empty, else 1..SHADES by its share of the largest count. */
export function shade(count, largest) {
  return count && largest ? Math.max(1, Math.ceil((count / largest) * SHADES)) : 0;
}

function confusionTable(classes, matrix) {
  const largest = Math.max(0, ...matrix.flat());
  return el("div", { class: "table-wrap" }, el("table", { id: "confusion", class: "confusion" },
    el("caption", { class: "hint" }, "Rows: true class · columns: predicted class · darker: more photos (green: right, red: wrong)"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "true \\ predicted"), classes.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, matrix.map((row, i) => el("tr", {},
      el("th", { scope: "row" }, classes[i]),
      row.map((count, j) => el("td", {
        class: `cm-cell ${i === j ? "cm-right" : "cm-wrong"} shade-${shade(count, largest)}`,
        title: `${count} ${count === 1 ? "photo" : "photos"} of ${classes[i]} predicted as ${classes[j]}`,
      }, String(count))))))));
}

function perClassTable(perClass) {
  return el("div", { class: "table-wrap" }, el("table", { id: "per-class" },
    el("thead", {}, el("tr", {}, ["Class", "Precision", "Recall", "F1", "Photos"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, perClass.map((row) => el("tr", {},
      el("th", { scope: "row" }, row.name), el("td", {}, percent(row.precision)), el("td", {}, percent(row.recall)),
      el("td", {}, row.f1.toFixed(3)), el("td", {}, String(row.support)))))));
}

/** Thumbnail URLs of a dataset's items, found a page of items at a time. */
function thumbnails(datasetId) {
  const urls = new Map();
  let itemPage = 0, exhausted = false;
  return {
    get: (id) => urls.get(id),
    async find(ids) {
      while (!exhausted && ids.some((id) => !urls.has(id))) {
        itemPage += 1;
        const items = await api(`/datasets/${encodeURIComponent(datasetId)}/items?limit=${ITEM_PAGE}&page=${itemPage}`);
        for (const item of items) urls.set(item.id, item.url);
        if (items.length < ITEM_PAGE) exhausted = true;
      }
    },
  };
}

/** The control that fixes a wrong photo's label in the dataset; `onFixed(label)` after the change is saved. */
function relabelControl(datasetId, row, classes, onFixed) {
  const id = `fix-${row.item}`;
  const choice = el("select", { id }, classes.map((name) => el("option", { value: name, selected: name === row.predicted }, name)));
  const save = el("button", { type: "button", class: "secondary", "data-role": "fix-label" }, "Fix label");
  save.addEventListener("click", () => guarded(async () => {
    save.disabled = true;
    try {
      await api(`/datasets/${encodeURIComponent(datasetId)}/items/${encodeURIComponent(row.item)}`, { method: "PATCH", json: { class: choice.value } });
      onFixed(choice.value);
    } finally {
      save.disabled = false;
    }
  }));
  return el("div", { class: "relabel" }, el("label", { for: id, class: "hint" }, `Correct class of ${row.name}`), el("div", { class: "row" }, choice, save));
}

function figure(row, ctx) {
  const url = ctx.thumbs.get(row.item);
  const ranked = Object.entries(row.probabilities).sort((a, b) => b[1] - a[1]);
  const seen = ctx.seen && ctx.seen.has(row.sha256);
  return el("figure", { class: `${row.correct ? "right" : "wrong"}${seen ? " seen" : ""}`, "data-item": row.item },
    url ? el("img", { src: url, alt: row.name, loading: "lazy", class: "pixelated" }) : el("p", { class: "hint" }, "(photo no longer in the dataset)"),
    el("figcaption", {},
      el("strong", {}, row.correct ? "✓ " : "✗ ", `predicted ${row.predicted}`), ` · true ${row.true}`, el("br"), row.name,
      seen ? el("span", { class: "seen-badge" }, "seen in training") : null,
      row.relabelled ? el("span", { class: "relabelled" }, `label fixed to ${row.true}`) : null),
    el("ul", { class: "hint probabilities" }, ranked.map(([name, p]) => el("li", {}, `${name}: ${percent(p)}`))),
    !row.correct && ctx.canModify && url ? relabelControl(ctx.datasetId, row, ctx.classes, (label) => ctx.relabel(row, label)) : null);
}

/** Show the evaluation of `rows` (the chosen photos' predictions) in `slot`.
 * ctx: { classes, datasetId, canModify, seen: Set(sha256)|null, title, note, links: [nodes] }. */
export async function showResults(slot, rows, ctx) {
  const thumbs = thumbnails(ctx.datasetId);
  const summary = el("div", { id: "summary" });
  const grid = el("div", { class: "images", id: "predictions" });
  const pager = el("p", { class: "row" });
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  let page = 1;
  const state = { ...ctx, thumbs, relabel: null };

  const showFigures = () => {
    const measured = measure(rows, ctx.classes);
    summary.replaceChildren(
      el("p", { id: "accuracy", class: "accuracy" }, "Accuracy ", el("strong", {}, percent(measured.accuracy)),
        " · right ", el("strong", { id: "right" }, String(measured.right)), " · wrong ", el("strong", { id: "wrong" }, String(measured.wrong)),
        ` of ${measured.count} photos`),
      el("h3", {}, "Confusion matrix"), confusionTable(ctx.classes, measured.matrix),
      el("h3", {}, "Per class"), perClassTable(measured.perClass));
  };
  const showPage = async () => {
    const shown = rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    await thumbs.find(shown.map((r) => r.item));
    grid.replaceChildren(...shown.map((row) => figure(row, state)));
    pager.replaceChildren(
      el("button", { type: "button", class: "secondary", disabled: page <= 1, onclick: () => guarded(async () => { page -= 1; await showPage(); }) }, "Previous"),
      el("span", {}, `Page ${page} of ${pages}`),
      el("button", { type: "button", class: "secondary", disabled: page >= pages, onclick: () => guarded(async () => { page += 1; await showPage(); }) }, "Next"));
  };
  state.relabel = (row, label) => {
    Object.assign(row, { true: label, correct: row.predicted === label, relabelled: true });
    showFigures();
    guarded(showPage);
  };
  slot.replaceChildren(el("section", { class: "card", id: "evaluation" },
    el("h2", {}, "Result"), summary,
    el("h3", { id: "grid-title" }, ctx.title),
    ctx.note ? el("p", { class: "hint", id: "grid-note" }, ctx.note) : null,
    ctx.canModify ? null : el("p", { class: "hint", id: "no-relabel" }, "You may not change this dataset's labels, so wrong labels cannot be fixed here."),
    grid, pager, ctx.links.length ? el("p", { class: "row" }, ...ctx.links) : null));
  showFigures();
  await showPage();
}
