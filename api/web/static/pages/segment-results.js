// The results of a SAM task on the Segment page: per photo, the photo, hard and blended masks (with the clicked
// points drawn over them), the segment under the pointer, what the cut-offs removed, and downloads.

import { downloadLink, el } from "/static/api.js";
import { marked, plural } from "/static/pages/segment-prompts.js";
import { summaryNotice } from "/static/pages/segment-summary.js";

/** The segment under (x, y): the last-painted (highest id) whose visible polygon contains the point. */
function segmentAt(segments, x, y) {
  for (let i = segments.length - 1; i >= 0; i -= 1) {
    for (const polygon of segments[i].polygons) if (inside(polygon, x, y)) return segments[i];
  }
  return null;
}

function inside(polygon, x, y) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

async function json(file) {
  if (!file || !file.url) return null;
  const response = await fetch(file.url);
  if (!response.ok) throw new Error(`Could not read ${file.name} (HTTP ${response.status}); reload the page and try again.`);
  return response.json();
}

function byFolder(outputs) {
  const folders = new Map();
  for (const output of outputs) {
    const [folder, name] = output.name.split("/");
    if (!name) continue;
    if (!folders.has(folder)) folders.set(folder, {});
    folders.get(folder)[name] = output;
  }
  return folders;
}

function hoverInfo(image, segments, info) {
  image.addEventListener("mousemove", (event) => {
    const box = image.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * segments.image.width;
    const y = ((event.clientY - box.top) / box.height) * segments.image.height;
    const found = segmentAt(segments.segments, x, y);
    info.textContent = found
      ? `Segment ${found.id}: area ${found.area} px, predicted IoU ${found.predicted_iou?.toFixed(3) ?? "—"}, stability ${found.stability_score?.toFixed(3) ?? "—"}`
      : "No segment here.";
  });
}

/** Sections for a succeeded task; `photos` are Files by name (for the photo figure), `onRetry(cutoffs)` retries. */
export async function resultSections(task, photos, onRetry) {
  const prompt = task.params && task.params.mode === "prompt" ? task.params.prompt : null;
  const sections = [];
  let index = 0;
  for (const [folder, files] of byFolder(task.outputs)) {
    const [segments, summary] = await Promise.all([json(files["segments.json"]), json(files["summary.json"])]);
    const photoName = segments ? segments.image.name : summary ? summary.image : folder;
    const photo = photos.find((p) => p.name === photoName) || photos[index];
    index += 1;
    const count = segments ? segments.segments.length : summary ? summary.kept : null;
    const info = el("p", { class: "hint", "aria-live": "polite", "data-role": "segment-info" }, segments && count ? "Hover a segment to see its id, area and score." : "");
    const figures = [el("figure", {}, el("img", { src: photo ? URL.createObjectURL(photo) : "", alt: `photo ${photoName}` }), el("figcaption", {}, "Photo"))];
    for (const [name, caption] of [["hard.png", "Hard masks"], ["blended.png", "Blended masks"]]) {
      if (!files[name] || !files[name].url) continue;
      const image = el("img", { src: files[name].url, alt: `${caption.toLowerCase()} of ${photoName}`, "data-output": name });
      if (segments) hoverInfo(image, segments, info);
      figures.push(el("figure", {}, marked(image, prompt), el("figcaption", {}, caption)));
    }
    sections.push(el("section", { class: "card", "data-folder": folder },
      el("h2", {}, photoName, count === null ? "" : ` — ${plural(count, "segment")}`),
      summaryNotice(summary, task.params && task.params.mode === "auto" ? onRetry : null),
      el("div", { class: "images" }, figures), info,
      el("p", { class: "downloads" }, "Download: ", ...Object.values(files).filter((o) => o.url).flatMap((o) => [downloadLink(o.url, o.name.split("/")[1]), " "]),
        task.manifest_url ? downloadLink(task.manifest_url, "manifest.json") : null)));
  }
  return sections;
}
