// Prompts on the Segment page: points (foreground or background, chosen with buttons, or Shift for background)
// and boxes drawn on the first photo, with undo; and the points drawn over a result as green + and red −.

import { el } from "/static/api.js";

const SVG = "http://www.w3.org/2000/svg";

/** "1 point", "2 points", "0 boxes": a count with its noun in the right number. */
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** The prompt being drawn on `canvas`; `onChange()` after every change. Coordinates are photo pixels. */
export function promptEditor({ canvas, summary, foreground, background, undo, clear, onChange = () => {} }) {
  const state = { points: [], boxes: [], order: [], image: null, name: "", label: 1 };

  function setLabel(label) {
    state.label = label;
    foreground.setAttribute("aria-pressed", String(label === 1));
    background.setAttribute("aria-pressed", String(label === 0));
  }

  function draw() {
    undo.disabled = !state.order.length;
    summary.textContent = state.points.length || state.boxes.length
      ? `${plural(state.points.length, "point")}, ${plural(state.boxes.length, "box", "boxes")} on ${state.name}.`
      : "No points or boxes yet.";
    if (!state.image) return;
    canvas.width = state.image.naturalWidth;
    canvas.height = state.image.naturalHeight;
    const g = canvas.getContext("2d");
    g.drawImage(state.image, 0, 0);
    g.lineWidth = Math.max(2, canvas.width / 300);
    for (const [x0, y0, x1, y1] of state.boxes) { g.strokeStyle = "#00e0ff"; g.strokeRect(x0, y0, x1 - x0, y1 - y0); }
    for (const [x, y, label] of state.points) {
      g.fillStyle = label ? "#22c55e" : "#ef4444";
      g.beginPath(); g.arc(x, y, Math.max(4, canvas.width / 120), 0, 2 * Math.PI); g.fill();
    }
  }

  function pixel(event) {
    const box = canvas.getBoundingClientRect();
    const x = Math.round(((event.clientX - box.left) / box.width) * canvas.width);
    const y = Math.round(((event.clientY - box.top) / box.height) * canvas.height);
    return [Math.min(Math.max(x, 0), canvas.width - 1), Math.min(Math.max(y, 0), canvas.height - 1)];
  }

  let dragStart = null;
  canvas.addEventListener("pointerdown", (event) => { dragStart = pixel(event); });
  canvas.addEventListener("pointerup", (event) => {
    if (!dragStart) return;
    const [x, y] = pixel(event);
    const [x0, y0] = dragStart;
    dragStart = null;
    if (Math.abs(x - x0) > 4 && Math.abs(y - y0) > 4) {
      state.boxes.push([Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y)]);
      state.order.push("boxes");
    } else {
      state.points.push([x0, y0, event.shiftKey ? 0 : state.label]);
      state.order.push("points");
    }
    draw();
    onChange();
  });
  foreground.addEventListener("click", () => setLabel(1));
  background.addEventListener("click", () => setLabel(0));
  undo.addEventListener("click", () => {
    const last = state.order.pop();
    if (last) state[last].pop();
    draw();
    onChange();
  });
  clear.addEventListener("click", () => { state.points = []; state.boxes = []; state.order = []; draw(); onChange(); });

  return {
    draw,
    /** Show `file` (the first photo) and start over, or keep `prompt` ({points, boxes}) when given. */
    setPhoto(file, prompt) {
      state.points = prompt ? prompt.points.map((p) => [...p]) : [];
      state.boxes = prompt ? prompt.boxes.map((b) => [...b]) : [];
      state.order = [...state.points.map(() => "points"), ...state.boxes.map(() => "boxes")];
      state.name = file ? file.name : "";
      state.image = null;
      draw();
      if (!file) return;
      const image = new Image();
      image.onload = () => { state.image = image; draw(); };
      image.src = URL.createObjectURL(file);
    },
    empty: () => !state.points.length && !state.boxes.length,
    pixel,
    label: () => state.label,
    params: () => ({ points: state.points.map((p) => [...p]), boxes: state.boxes.map((b) => [...b]) }),
  };
}

/** An SVG laid over a result `width` x `height` pixels: a green + per foreground point, a red − per
 * background point, an outline per box. */
export function promptMarks(prompt, width, height) {
  const node = document.createElementNS(SVG, "svg");
  node.setAttribute("class", "prompt-marks");
  node.setAttribute("viewBox", `0 0 ${width} ${height}`);
  node.setAttribute("preserveAspectRatio", "none");
  node.setAttribute("aria-hidden", "true");
  const size = Math.max(6, Math.min(width, height) / 25);
  for (const [x0, y0, x1, y1] of prompt.boxes || []) {
    node.append(svgNode("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, class: "prompt-box" }));
  }
  for (const [x, y, label] of prompt.points || []) {
    const group = svgNode("g", { class: `prompt-mark ${label ? "foreground" : "background"}`, "data-label": label });
    group.append(svgNode("circle", { cx: x, cy: y, r: size }));
    group.append(svgNode("line", { x1: x - size * 0.6, y1: y, x2: x + size * 0.6, y2: y }));
    if (label) group.append(svgNode("line", { x1: x, y1: y - size * 0.6, x2: x, y2: y + size * 0.6 }));
    node.append(group);
  }
  return node;
}

function svgNode(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** The image and, once it has loaded (its size known), the prompt's marks over it, in one box. */
export function marked(image, prompt) {
  if (!prompt) return image;
  const stack = el("div", { class: "segment-stack" }, image);
  const add = () => stack.append(promptMarks(prompt, image.naturalWidth, image.naturalHeight));
  if (image.complete && image.naturalWidth) add();
  else image.addEventListener("load", add, { once: true });
  return stack;
}
