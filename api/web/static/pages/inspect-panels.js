// The Inspect page's side panel for one unit: statistics table, histogram (SVG bars), feature maps (a PNG
// from the task's outputs) and what quantizing the unit costs in the cross-inference sweeps.
import { el } from "/static/api.js";
import { count, number, shapeText, svg } from "/static/pages/inspect-graph.js";

export const PRECISION_NAMES = { float: "float", int8: "INT8", hybrid: "hybrid (INT8 and float)" };

// ---------------------------------------------------------------------------------------------------
// The side panel.
export function histogram(record, label, logScale) {
  const { edges, counts } = record.histogram;
  const width = 320, height = 150, left = 44, rightPad = 8, top = 10, bottom = 30;
  const total = counts.reduce((a, b) => a + b, 0);
  const most = Math.max(1, ...counts);
  const low = edges[0], high = edges[edges.length - 1];
  const span = high - low || 1;
  const px = (value) => left + ((value - low) / span) * (width - left - rightPad);
  const scale = logScale ? Math.log1p : (value) => value;
  const py = (value) => top + (1 - scale(value) / scale(most)) * (height - top - bottom);
  const fullest = counts.indexOf(Math.max(...counts));
  const chart = svg("svg", {
    class: "histogram", id: "unit-histogram", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Histogram of the ${label} output${logScale ? " (counts on a log scale)" : ""}: ${counts.length} bins from ${number(low)} to ${number(high)}; ` +
      `the fullest bin, ${number(edges[fullest])} to ${number(edges[fullest + 1])}, holds ${count(counts[fullest] ?? 0)} of ${count(total)} values.`,
  });
  chart.append(svg("line", { x1: left, x2: width - rightPad, y1: py(0), y2: py(0), class: "axis" }));
  chart.append(svg("line", { x1: left, x2: left, y1: top, y2: py(0), class: "axis" }));
  chart.append(svg("text", { x: left - 4, y: top + 8, "text-anchor": "end", class: "tick" }, count(most)));
  chart.append(svg("text", { x: left - 4, y: py(0), "text-anchor": "end", class: "tick" }, "0"));
  chart.append(svg("text", { x: left, y: height - 12, "text-anchor": "start", class: "tick" }, number(low)));
  chart.append(svg("text", { x: width - rightPad, y: height - 12, "text-anchor": "end", class: "tick" }, number(high)));
  if (low < 0 && high > 0) {
    chart.append(svg("line", { x1: px(0), x2: px(0), y1: top, y2: py(0), class: "zero" }));
    chart.append(svg("text", { x: px(0), y: height - 12, "text-anchor": "middle", class: "tick" }, "0"));
  }
  counts.forEach((value, i) => {
    const x0 = px(edges[i]), x1 = px(edges[i + 1]);
    const bar = svg("rect", { class: "bar", x: x0 + 0.5, width: Math.max(0.5, x1 - x0 - 1), y: py(value), height: py(0) - py(value) });
    bar.append(svg("title", {}, `${number(edges[i])} to ${number(edges[i + 1])}: ${count(value)} values`));
    chart.append(bar);
  });
  chart.append(svg("text", { x: (left + width - rightPad) / 2, y: height - 1, "text-anchor": "middle", class: "tick" }, "output value"));
  return chart;
}

/** What quantizing `unit` costs in both cross-inference sweeps, or null when the unit is not in cross.json. */
export function crossCost(cross, unit) {
  const index = cross.units.indexOf(unit);
  if (index < 0) return null;
  const added = (direction) => {
    const sweep = cross.sweeps[direction];
    if (!sweep) return null;
    const error = (k) => sweep.steps.find((step) => step.k === k)?.relative_error;
    const [more, less] = direction === "float_then_int8" ? [index, index + 1] : [index + 1, index];
    const a = error(more), b = error(less);
    return a === undefined || b === undefined ? null : a - b;
  };
  return { index, floatThenInt8: added("float_then_int8"), int8ThenFloat: added("int8_then_float") };
}

export function crossChart(cross, unit) {
  const sweep = cross.sweeps.float_then_int8;
  if (!sweep) return null;
  const values = cross.units.map((name) => crossCost(cross, name).floatThenInt8 ?? 0);
  const width = 320, height = 110, left = 8, rightPad = 8, top = 8, bottom = 22;
  const high = Math.max(0, ...values), low = Math.min(0, ...values);
  const span = high - low || 1;
  const py = (value) => top + ((high - value) / span) * (height - top - bottom);
  const step = (width - left - rightPad) / values.length;
  const chart = svg("svg", {
    class: "cross-chart", id: "cross-chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Relative logit error each unit adds when it turns to INT8 (float then INT8 sweep); ${unit} is highlighted, ` +
      `the costliest is ${sweep.costliest.unit}.`,
  });
  chart.append(svg("line", { x1: left, x2: width - rightPad, y1: py(0), y2: py(0), class: "axis" }));
  values.forEach((value, i) => {
    const name = cross.units[i];
    const bar = svg("rect", {
      class: `bar${name === unit ? " selected" : ""}${name === sweep.costliest.unit ? " costliest" : ""}`,
      x: left + i * step + 1, width: Math.max(1, step - 2), y: Math.min(py(value), py(0)), height: Math.abs(py(0) - py(value)) || 0.5,
    });
    bar.append(svg("title", {}, `${name}: ${value.toExponential(2)}`));
    chart.append(bar);
  });
  const at = cross.units.indexOf(unit);
  if (at >= 0) {
    const middle = left + (at + 0.5) * step;
    const anchor = at < 2 ? "start" : at > values.length - 3 ? "end" : "middle";
    chart.append(svg("text", { x: middle, y: height - 6, "text-anchor": anchor, class: "tick" }, unit));
  }
  return chart;
}

export function crossSection(cross, unit) {
  const cost = crossCost(cross, unit);
  if (!cost) return el("p", { class: "hint" }, `cross.json has no unit ${unit}.`);
  const error = (value) => (value === null ? "—" : value.toExponential(2));
  const costliest = Object.entries(cross.sweeps).filter(([, sweep]) => sweep.costliest.unit === unit)
    .map(([direction]) => (direction === "float_then_int8" ? "float → INT8" : "INT8 → float"));
  return el("section", { id: "unit-cross", class: "unit-cross" },
    el("h3", {}, "Cross inference"),
    el("p", {}, "Turning ", el("strong", {}, unit), " to INT8 changes the relative error of the logits (against all-float) by ",
      el("strong", { "data-cost": "float_then_int8" }, error(cost.floatThenInt8)), " when the units before it run in float, and by ",
      el("strong", { "data-cost": "int8_then_float" }, error(cost.int8ThenFloat)), " when they run in INT8",
      (cost.floatThenInt8 ?? 0) < 0 || (cost.int8ThenFloat ?? 0) < 0 ? " (below zero: its error partly cancels earlier ones)." : "."),
    costliest.length ? el("p", { class: "notice costliest-note" }, `The costliest unit to quantize in the ${costliest.join(" and ")} sweep.`) : null,
    crossChart(cross, unit));
}

export function statsTable(record, doc) {
  const rows = [
    ["type", "Type", record.type],
    ["precision", "Precision", PRECISION_NAMES[record.precision] ?? record.precision],
    ["input_shape", "Input", shapeText(record.input_shape)],
    ["output_shape", "Output", shapeText(record.output_shape)],
    ["min", "Min", number(record.stats.min)],
    ["max", "Max", number(record.stats.max)],
    ["mean", "Mean", number(record.stats.mean)],
    ["std", "Std", number(record.stats.std)],
    ["nonfinite", "Non-finite values", count(record.stats.nonfinite)],
  ];
  return el("table", { id: "unit-stats", class: "stats", "aria-label": `Statistics of ${record.name} (${PRECISION_NAMES[doc.precision] ?? doc.precision})` },
    el("tbody", {}, rows.map(([key, label, value]) => el("tr", {}, el("th", { scope: "row" }, label), el("td", { "data-stat": key }, value)))));
}

export function featureMaps(record, folder, outputs, label) {
  if (!record.png) {
    return el("p", { class: "hint", id: "unit-no-maps" }, `No feature maps: the output is ${shapeText(record.output_shape)}, not an image-shaped tensor.`);
  }
  const found = outputs.get(folder + record.png);
  if (!found) return el("p", { class: "error" }, `The task wrote no ${folder}${record.png}; run the inspection again.`);
  const maps = record.maps;
  const channels = record.output_shape[1];
  const caption = maps
    ? `Channels 0–${maps.count - 1} of ${channels} in ${maps.rows} rows of ${maps.cols}; each map is ${record.output_shape[2]}×${record.output_shape[3]} pixels` +
      `${maps.scale > 1 ? `, drawn ${maps.scale}× larger,` : ""} and scaled from its own minimum (black) to maximum (white).`
    : "Feature maps, each scaled from its own minimum (black) to maximum (white).";
  const image = el("img", {
    id: "unit-maps", src: found.url, alt: `Feature maps of ${label}: ${maps ? maps.count : "the first"} channels of ${shapeText(record.output_shape)}`,
  });
  const problem = el("p", { class: "error", hidden: true }, "The feature-map image could not be loaded (its link may have expired); reload the page.");
  image.addEventListener("error", () => { problem.hidden = false; });
  return el("figure", { class: "feature-maps" }, image, el("figcaption", {}, caption), problem);
}

// ---------------------------------------------------------------------------------------------------
// A result: graph, toggle and panel.
