// The Lineage tab: a small graph (SVG built with DOM calls) of where this model's versions came from and what
// was made from them — datasets and parent versions of other models on the left, this model's versions in the
// middle (oldest at the top), versions of other models made from it on the right. Every node is a link.
import { el } from "/static/api.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 180, HEIGHT = 40, GAP_X = 60, GAP_Y = 18, PAD = 10;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const short = (text, size = 24) => (text.length > size ? `${text.slice(0, size - 1)}…` : text);
const resourceHref = (name) => `/resources/${name.split("/").map(encodeURIComponent).join("/")}`;

/** Nodes in three columns and the edges between them, from the versions' parents and provenance. */
export function lineageModel(resource, versions, derived) {
  const nodes = new Map();
  const edges = [];
  const add = (key, column, label, href, kind) => {
    if (!nodes.has(key)) nodes.set(key, { key, column, label, href, kind });
    return key;
  };
  for (const v of versions) {
    const own = add(`v${v.version}`, 1, `${resource.name} v${v.version}`, `#version-${v.version}`, "version");
    if (v.parent !== null && v.parent !== undefined) {
      const other = v.parent_resource && v.parent_resource !== resource.name;
      const from = other
        ? add(`r:${v.parent_resource}:${v.parent}`, 0, `${v.parent_resource} v${v.parent}`, resourceHref(v.parent_resource), "parent")
        : `v${v.parent}`;
      edges.push([from, own, (v.provenance || {}).mode || "derives"]);
    }
    const dataset = (v.provenance || {}).dataset;
    if (dataset && dataset.id) {
      edges.push([add(`d:${dataset.id}`, 0, `dataset ${dataset.name || dataset.id.slice(0, 8)}`, `/datasets/${encodeURIComponent(dataset.id)}`, "dataset"), own, "data"]);
    }
  }
  for (const d of derived) {
    const child = add(`c:${d.resource}:${d.version}`, 2, `${d.resource} v${d.version}`, resourceHref(d.resource), "child");
    edges.push([`v${d.parent}`, child, (d.provenance || {}).mode || "derives"]);
  }
  return { nodes: [...nodes.values()], edges: edges.filter(([a, b]) => nodes.has(a) && nodes.has(b)) };
}

function place(nodes) {
  const rows = [0, 0, 0];
  for (const node of nodes) {
    node.x = PAD + node.column * (WIDTH + GAP_X);
    node.y = PAD + rows[node.column] * (HEIGHT + GAP_Y);
    rows[node.column] += 1;
  }
  return { width: PAD * 2 + 3 * WIDTH + 2 * GAP_X, height: PAD * 2 + Math.max(1, ...rows) * (HEIGHT + GAP_Y) - GAP_Y };
}

function edgePath(from, to) {
  if (from.column === to.column) { // a version of this model from an earlier one: down its left side
    const x = from.x, y1 = from.y + HEIGHT / 2, y2 = to.y + HEIGHT / 2;
    return `M${x},${y1} C${x - 24},${y1} ${x - 24},${y2} ${x},${y2}`;
  }
  const x1 = from.x + WIDTH, y1 = from.y + HEIGHT / 2, x2 = to.x, y2 = to.y + HEIGHT / 2;
  return `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`;
}

function nodeLink(node) {
  return svg("a", { href: node.href, class: `lineage-node ${node.kind}`, "data-node": node.key },
    svg("title", {}, node.label),
    svg("rect", { x: node.x, y: node.y, width: WIDTH, height: HEIGHT, rx: 6 }),
    svg("text", { x: node.x + 10, y: node.y + HEIGHT / 2 + 5 }, short(node.label)));
}

/** The Lineage tab's panel. */
export function lineagePanel(resource, versions, derived) {
  const { nodes, edges } = lineageModel(resource, versions, derived);
  if (!nodes.length) return el("section", { "aria-label": "Lineage" }, el("p", { class: "notice" }, "No version yet, so no lineage."));
  const size = place(nodes);
  const byKey = new Map(nodes.map((n) => [n.key, n]));
  const graph = svg("svg", { viewBox: `0 0 ${size.width} ${size.height}`, class: "lineage-graph", id: "lineage-graph",
    role: "group", "aria-label": `Lineage of ${resource.name}: ${nodes.length} nodes, ${edges.length} links` },
  svg("defs", {}, svg("marker", { id: "lineage-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "lineage-arrow" }))),
  ...edges.map(([a, b, mode]) => svg("path", { d: edgePath(byKey.get(a), byKey.get(b)), class: `lineage-edge ${mode}`, "marker-end": "url(#lineage-arrow)" },
    svg("title", {}, `${byKey.get(a).label} → ${byKey.get(b).label} (${mode})`))),
  ...nodes.map(nodeLink));
  const legend = el("p", { class: "hint" }, "Left: datasets and models it was made from · middle: its versions, oldest first · right: models made from it. Each box opens its page.");
  return el("section", { "aria-label": "Lineage" }, el("div", { class: "lineage-frame" }, graph), legend,
    el("ul", { class: "visually-hidden", "aria-label": "Lineage links" },
      edges.map(([a, b, mode]) => el("li", {}, `${byKey.get(b).label} ${mode === "data" ? "trained on" : "made from"} ${byKey.get(a).label}`))));
}
