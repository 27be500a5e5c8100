// The time left of a running segmentation, estimated from the batches done: the runner moves the task's
// progress before each batch of points; the work step owns the middle third of the bar (init and publish the
// others), so the work done is (progress − 1/3) × 3.

const WORK_START = 1 / 3;
const WORK_SPAN = 1 / 3;

/** Seconds left when the work went from `from` to `to` (fractions 0–1) in `seconds`; null before any work. */
export function secondsLeft(from, to, seconds) {
  if (!(to > from) || !(seconds > 0)) return null;
  return Math.max(0, (seconds * (1 - to)) / (to - from));
}

/** "≈ 40 s left", "≈ 3 min left". */
export function leftText(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return seconds < 90 ? `≈ ${Math.max(1, Math.round(seconds))} s left` : `≈ ${Math.round(seconds / 60)} min left`;
}

/** Follows one task's updates; `left(task)` is the text for the newest one ("" when it cannot tell yet). */
export function timeLeft(now = () => performance.now() / 1000) {
  let first = null;
  return function left(task) {
    const step = (task.steps || []).find((s) => s.status === "running");
    if (task.status !== "running" || !step || step.name === "init" || step.name === "publish") return "";
    const work = Math.min(1, Math.max(0, (task.progress - WORK_START) / WORK_SPAN));
    if (!first) first = { at: now(), work };
    return leftText(secondsLeft(first.work, work, now() - first.at));
  };
}
