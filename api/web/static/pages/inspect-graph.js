// The Inspect page's model graph: graph.json laid out top to bottom (rank = longest path from the input,
// a branch such as a downsample in its own lane) and drawn as SVG; nodes are buttons (arrow keys, Home,
// End, Enter) and choosing one calls back with its unit. Shared SVG and number helpers live here too.

export const SVG_NS = "http://www.w3.org/2000/svg";

// Graph geometry, in SVG user units (1 unit = 1 CSS pixel: the graph scrolls inside its frame).
const NODE_W = 150;
const NODE_H = 34;
const GAP_X = 20;
const RANK_H = 48;
const LEFT = 76; // unit names
const TOP = 10;
const GUTTER = 30; // residual connections that skip over nodes run down the right-hand side

/** An SVG element: svg("rect", {x: 1, class: "bar"}, child…); strings become text nodes. */
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A statistic, readable and precise enough that float and INT8 values can be told apart. */
export function number(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (value === 0) return "0";
  const size = Math.abs(value);
  return size >= 1e5 || size < 1e-3 ? value.toExponential(3) : value.toPrecision(5);
}

export const shapeText = (shape) => (shape && shape.length ? shape.join("×") : "—");
export const count = (value) => Number(value).toLocaleString("en");
export const clip = (text, size) => (text.length > size ? `${text.slice(0, size - 1)}…` : text);

// ---------------------------------------------------------------------------------------------------
// Layout: ranks (longest path from the input) and lanes (a branch such as a downsample gets its own).

/**
 * Place graph.json's nodes: rank = longest path from a source, lane = the column within a rank (a node
 * continues the lane of its first input that has not yet handed its lane on; a second branch opens the
 * next free lane). Returns {ranks, lanes, place: Map(id → {node, order, rank, lane}), order: [ids]}.
 */
export function layout(graph) {
  const known = new Map(graph.nodes.map((node, index) => [node.id, { node, order: index, inputs: [], outputs: [] }]));
  for (const [source, target] of graph.edges) {
    if (!known.has(source) || !known.has(target)) continue;
    known.get(target).inputs.push(source);
    known.get(source).outputs.push(target);
  }
  // Kahn's algorithm, ties broken by execution order, so a graph listed out of order still lays out.
  const waiting = new Map([...known].map(([id, entry]) => [id, entry.inputs.length]));
  const ready = [...known.keys()].filter((id) => waiting.get(id) === 0);
  const sorted = [];
  while (ready.length) {
    ready.sort((a, b) => known.get(a).order - known.get(b).order);
    const id = ready.shift();
    sorted.push(id);
    for (const next of known.get(id).outputs) {
      waiting.set(next, waiting.get(next) - 1);
      if (waiting.get(next) === 0) ready.push(next);
    }
  }
  if (sorted.length !== known.size) throw new Error("graph.json has a cycle; it cannot be drawn top to bottom.");
  const place = new Map();
  const handedOn = new Set();
  const taken = new Map(); // rank → Set(lane)
  let lanes = 1;
  let ranks = 1;
  for (const id of sorted) {
    const entry = known.get(id);
    const rank = entry.inputs.length ? Math.max(...entry.inputs.map((input) => place.get(input).rank + 1)) : 0;
    const inputs = entry.inputs.map((input) => place.get(input)).sort((a, b) => a.lane - b.lane);
    const free = inputs.find((input) => !handedOn.has(input.node.id));
    let lane = free ? free.lane : inputs.length ? inputs[0].lane + 1 : 0;
    if (free) handedOn.add(free.node.id);
    if (!taken.has(rank)) taken.set(rank, new Set());
    while (taken.get(rank).has(lane)) lane += 1;
    taken.get(rank).add(lane);
    place.set(id, { node: entry.node, order: entry.order, rank, lane, inputs: entry.inputs });
    lanes = Math.max(lanes, lane + 1);
    ranks = Math.max(ranks, rank + 1);
  }
  return { ranks, lanes, place, taken, order: sorted };
}

// ---------------------------------------------------------------------------------------------------
// The graph.

function nodeLabel(node) {
  const short = node.unit && node.name.startsWith(`${node.unit}.`) ? node.name.slice(node.unit.length + 1) : node.name;
  const shape = node.output_shape ? shapeText(node.output_shape[0] === 1 ? node.output_shape.slice(1) : node.output_shape) : "";
  const kind = node.type === "add" ? "residual add" : node.type;
  return { short, detail: [kind !== short ? kind : null, shape || null].filter(Boolean).join(" · ") };
}

function accessibleName(node) {
  const parts = [node.name, node.type === "add" ? "residual addition" : node.type];
  if (node.output_shape) parts.push(`output ${shapeText(node.output_shape)}`);
  if (node.parameters) parts.push(`${count(node.parameters)} parameters`);
  parts.push(`unit ${node.unit}`);
  return parts.join(", ");
}

/**
 * Draw the graph into a new <svg>. Nodes are <g role="button"> with one tab stop for the whole graph
 * (arrow keys move between nodes, Enter or Space selects the node's unit). `onSelect(unit)` is called
 * when a node or a unit band is chosen. Returns {element, highlight(unit), reveal(unit)}.
 */
export function drawGraph(graph, onSelect) {
  const { ranks, lanes, place, taken, order } = layout(graph);
  const x = (lane) => LEFT + lane * (NODE_W + GAP_X);
  const y = (rank) => TOP + rank * RANK_H;
  const right = x(lanes) - GAP_X;
  const width = right + GUTTER + 8;
  const height = TOP + ranks * RANK_H;
  const element = svg("svg", {
    class: "model-graph", id: "model-graph", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "group", "aria-label": `Model graph: ${graph.nodes.length} nodes in ${graph.units.length} units. Use the arrow keys to move between nodes and Enter to show a node's unit.`,
  });
  element.append(svg("defs", {},
    svg("marker", { id: "graph-arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L8,4 L0,8 z", class: "arrow-head" }))));

  // Unit bands behind the nodes: one per unit, over the ranks its nodes occupy.
  const bands = new Map();
  graph.units.forEach((unit, index) => {
    const rows = [...place.values()].filter((p) => p.node.unit === unit).map((p) => p.rank);
    if (!rows.length) return;
    const top = y(Math.min(...rows)) - 7;
    const bottom = y(Math.max(...rows)) + NODE_H + 7;
    const band = svg("g", { class: `unit-band${index % 2 ? " odd" : ""}`, "data-band": unit },
      svg("rect", { x: 2, y: top, width: width - 4, height: bottom - top, rx: 4 }),
      svg("text", { x: 8, y: top + 18, class: "unit-label" }, unit));
    bands.set(unit, band);
    element.append(band);
  });

  // Edges: a neighbouring rank gets a curve; a longer one runs down its source's lane when that lane is
  // free, else down the gutter on the right (the residual connections of identity blocks).
  const edges = svg("g", { class: "edges" });
  const laneFree = (lane, from, to) => {
    for (let rank = from + 1; rank < to; rank += 1) if (taken.get(rank)?.has(lane)) return false;
    return true;
  };
  let skips = 0;
  for (const [source, target] of graph.edges) {
    const s = place.get(source);
    const t = place.get(target);
    if (!s || !t) continue;
    const sx = x(s.lane) + NODE_W / 2;
    const tx = x(t.lane) + NODE_W / 2;
    const sBottom = y(s.rank) + NODE_H;
    const tTop = y(t.rank);
    const tMiddle = y(t.rank) + NODE_H / 2;
    let d;
    let skip = false;
    if (t.rank - s.rank <= 1) {
      const middle = (sBottom + tTop) / 2;
      d = `M${sx},${sBottom} C${sx},${middle} ${tx},${middle} ${tx},${tTop}`;
    } else if (s.lane !== t.lane && laneFree(s.lane, s.rank, t.rank)) {
      const side = sx > tx ? x(t.lane) + NODE_W : x(t.lane);
      d = `M${sx},${sBottom} V${tMiddle} H${side}`;
      skip = true;
    } else {
      const gutter = right + GUTTER / 2 + (skips % 2) * 4;
      d = `M${x(s.lane) + NODE_W},${y(s.rank) + NODE_H / 2} H${gutter} V${tMiddle} H${x(t.lane) + NODE_W}`;
      skip = true;
      skips += 1;
    }
    edges.append(svg("path", { d, class: skip ? "edge skip" : "edge", "marker-end": "url(#graph-arrow)", "data-edge": `${source}>${target}` }));
  }
  element.append(edges);

  // Nodes, in visual order (rank, then lane), so the reading order follows the drawing.
  const visual = [...order].sort((a, b) => place.get(a).rank - place.get(b).rank || place.get(a).lane - place.get(b).lane);
  const nodes = new Map();
  for (const id of visual) {
    const p = place.get(id);
    const { short, detail } = nodeLabel(p.node);
    const kind = p.node.type === "add" ? "op-add" : p.node.op === "input" || p.node.op === "output" ? "op-io" : `op-${p.node.op}`;
    const g = svg("g", {
      class: `node ${kind}`, role: "button", tabindex: -1, "aria-pressed": "false", "aria-label": accessibleName(p.node),
      "data-id": id, "data-unit": p.node.unit, transform: `translate(${x(p.lane)},${y(p.rank)})`,
    },
    svg("title", {}, `${p.node.name} (${p.node.op})${p.node.parameters ? `, ${count(p.node.parameters)} parameters` : ""}`),
    svg("rect", { width: NODE_W, height: NODE_H, rx: p.node.type === "add" ? 14 : 5 }),
    svg("text", { x: 8, y: 14, class: "node-name" }, clip(short, 22)),
    svg("text", { x: 8, y: 28, class: "node-detail" }, clip(detail, 26)));
    nodes.set(id, g);
    element.append(g);
  }
  let current = nodes.get(visual[0]);
  current.setAttribute("tabindex", "0");
  const focusNode = (g) => {
    if (!g) return;
    current.setAttribute("tabindex", "-1");
    current = g;
    g.setAttribute("tabindex", "0");
    g.focus();
  };
  const neighbour = (g, key) => {
    const p = place.get(g.dataset.id);
    const at = visual.indexOf(g.dataset.id);
    const closest = (rank) => {
      const row = visual.filter((id) => place.get(id).rank === rank);
      row.sort((a, b) => Math.abs(place.get(a).lane - p.lane) - Math.abs(place.get(b).lane - p.lane));
      return row[0];
    };
    switch (key) {
      case "ArrowDown": return closest(p.rank + 1);
      case "ArrowUp": return closest(p.rank - 1);
      case "ArrowRight": return visual[at + 1];
      case "ArrowLeft": return visual[at - 1];
      case "Home": return visual[0];
      case "End": return visual[visual.length - 1];
      default: return undefined;
    }
  };
  element.addEventListener("keydown", (event) => {
    const g = event.target.closest && event.target.closest("[data-id]");
    if (!g) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(g.dataset.unit);
      return;
    }
    const next = neighbour(g, event.key);
    if (next === undefined && !["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    if (next) focusNode(nodes.get(next));
  });
  element.addEventListener("focusin", (event) => {
    const g = event.target.closest && event.target.closest("[data-id]");
    if (g && g !== current) {
      current.setAttribute("tabindex", "-1");
      current = g;
      g.setAttribute("tabindex", "0");
    }
  });
  element.addEventListener("click", (event) => {
    const g = event.target.closest("[data-id]");
    if (g) {
      focusNode(g);
      onSelect(g.dataset.unit);
      return;
    }
    const band = event.target.closest("[data-band]");
    if (band) onSelect(band.dataset.band);
  });

  return {
    element,
    highlight(unit) {
      for (const g of nodes.values()) {
        const chosen = g.dataset.unit === unit;
        g.classList.toggle("selected", chosen);
        g.setAttribute("aria-pressed", String(chosen));
      }
      for (const [name, band] of bands) band.classList.toggle("selected", name === unit);
      if (current.dataset.unit !== unit) {
        const first = [...nodes.values()].find((g) => g.dataset.unit === unit);
        if (first) {
          current.setAttribute("tabindex", "-1");
          current = first;
          first.setAttribute("tabindex", "0");
        }
      }
    },
    reveal(unit) {
      const band = bands.get(unit);
      const frame = element.parentElement;
      if (!band || !frame) return;
      const box = band.getBBox();
      if (box.y < frame.scrollTop || box.y + box.height > frame.scrollTop + frame.clientHeight) {
        frame.scrollTop = Math.max(0, box.y - 8);
      }
    },
  };
}
