// What the quality cut-offs did to one photo (summary.json of a SAM task), in words, with a retry at lower
// cut-offs when they removed every mask.

import { el } from "/static/api.js";
import { plural } from "/static/pages/segment-prompts.js";

/** "Found 37 masks; the quality cut-off 0.88 removed 30 and the stability cut-off 0.95 removed the other 7." */
export function explain(summary) {
  if (!summary || summary.mode !== "auto") return "";
  if (!summary.found) return "SAM proposed no masks on this photo.";
  const removed = summary.removed || {};
  const cutoffs = summary.cutoffs || {};
  const parts = [
    [removed.pred_iou_thresh, `the quality cut-off ${cutoffs.pred_iou_thresh} removed`],
    [removed.stability_score_thresh, `the stability cut-off ${cutoffs.stability_score_thresh} removed`],
    [removed.crop_edge, "touching a crop's edge removed"],
    [removed.duplicates, "overlapping duplicates removed"],
  ].filter(([count]) => count > 0);
  const found = `Found ${plural(summary.found, "mask")}`;
  if (summary.kept) {
    const why = parts.map(([count, what]) => `${what} ${count}`).join(", ");
    return `${found} and kept ${summary.kept}${why ? `; ${why}` : ""}.`;
  }
  if (parts.length === 1) return `${found}; ${parts[0][1]} ${parts[0][0] === 1 ? "it" : `all ${parts[0][0]}`}.`;
  const last = parts.pop();
  return `${found}; ${parts.map(([count, what]) => `${what} ${count}`).join(", ")} and ${last[1]} the other ${last[0]}.`;
}

/** The explanation, and a button that retries with the suggested lower cut-offs when none was kept. */
export function summaryNotice(summary, onRetry) {
  const text = explain(summary);
  if (!text) return null;
  const retry = summary.retry;
  return el("div", { class: summary.kept ? "hint" : "notice segment-explain", "data-role": "cutoff-summary" },
    el("p", {}, text),
    !summary.kept && retry && onRetry
      ? el("button", { type: "button", onclick: () => onRetry(retry) },
        `Retry with lower cut-offs (quality ${retry.pred_iou_thresh}, stability ${retry.stability_score_thresh})`)
      : null);
}
