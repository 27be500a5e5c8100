// Shared by every page: the REST client (the same /api/v1 programs use), the signed-in user, errors shown
// on the page, a task follower over server-sent events, a small DOM builder and an SVG line chart.

import { clearFieldErrors, placeFieldErrors } from "/static/field-errors.js";

const API = "/api/v1";
const TOKEN_KEY = "commons.token";

export class ApiError extends Error {
  /** `fields`: [{field, message}], what was wrong with each named control (shown next to it by showError). */
  constructor(status, detail, field, fields = []) {
    super(detail);
    this.status = status;
    this.field = field;
    this.fields = fields;
  }
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const result = { ...extra };
  const current = token();
  if (current) result.Authorization = `Bearer ${current}`;
  return result;
}

/** Call the REST API. `json` sends a JSON body, `form` a FormData (multipart) or URLSearchParams body. */
export async function api(path, { method = "GET", json, form, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (error) {
    throw new ApiError(0, `The service could not be reached (${error.message}); check your connection and try again.`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401 && token()) setToken(null); // expired or revoked: sign in again
    throw new ApiError(response.status, describe(body, response.status), body && body.field, fieldMessages(body));
  }
  return body;
}

/** The answer's errors per field: its `fields` list, or its one `field` with the message about it. */
function fieldMessages(body) {
  if (!body) return [];
  if (Array.isArray(body.fields)) return body.fields.filter((item) => item && item.field && item.message);
  if (body.field && typeof body.detail === "string") return [{ field: body.field, message: body.message || body.detail }];
  return [];
}

function describe(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc || []).slice(1).join(".") || "request"}: ${item.msg}`).join("\n");
  }
  return `The request failed (HTTP ${status}).`;
}

/** Show an error (or a message): each message about a field next to its control (focused; see field-errors.js),
 * the rest in the page's alert box; `null` hides them all (as every submission does first). */
export function showError(error) {
  const box = document.getElementById("error");
  clearFieldErrors();
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
  if (!error) return;
  const { placed, left } = placeFieldErrors((error instanceof ApiError && error.fields) || []);
  if (placed && !left.length) return;
  if (!box) return;
  box.textContent = placed ? left.join("\n") : error instanceof Error ? error.message : String(error);
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

/** Run an async action, showing its error on the page instead of failing silently. */
export async function guarded(action) {
  try {
    showError(null);
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

/** Run `action` (guarded) when `form` is submitted, in place of the browser's own submission. */
export function onSubmit(form, action) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(action);
  });
}

/** Let files be dropped on `zone`, marked "over" while they are dragged over it; `onDrop(files)` takes them. */
export function dropTarget(zone, onDrop) {
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    onDrop(event.dataTransfer ? event.dataTransfer.files : []);
  });
}

/** Build an element: el("a", {href: "/x", class: "button"}, "text", child). Strings become text nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let cachedUser;

/** The signed-in user ({id, username, is_admin}) or null. */
export async function currentUser() {
  if (cachedUser !== undefined) return cachedUser;
  if (!token()) return (cachedUser = null);
  try {
    cachedUser = await api("/users/me");
  } catch {
    cachedUser = null;
  }
  return cachedUser;
}

/** On pages that need an account: the user, or a sign-in message (and null) when there is none. */
export async function requireUser(container) {
  const user = await currentUser();
  if (!user) {
    const next = encodeURIComponent(location.pathname + location.search);
    container.replaceChildren(
      el("p", { class: "notice" }, "This page needs an account. ", el("a", { href: `/signin?next=${next}` }, "Sign in"),
        " or ", el("a", { href: `/signup?next=${next}` }, "sign up"), "."),
    );
  }
  return user;
}

async function fillHeader() {
  const user = await currentUser();
  const who = document.getElementById("whoami");
  document.getElementById("signin-link").hidden = Boolean(user);
  document.getElementById("signout").hidden = !user;
  document.getElementById("tokens-link").hidden = !user;
  if (user) who.textContent = `Signed in as ${user.username}`;
  document.getElementById("signout").addEventListener("click", async () => {
    try {
      await api("/users/me/signout", { method: "POST" }); // ends the session on the server, not only here
    } catch {
      /* already ended or unreachable: forget it here all the same */
    }
    setToken(null);
    location.href = "/signin";
  });
  if (user) {
    document.getElementById("inbox-link").hidden = false;
    watchInbox();
    try {
      const waiting = await api("/access-requests?status=pending");
      const badge = document.getElementById("pending-badge");
      if (waiting && waiting.length > 0) {
        badge.textContent = String(waiting.length);
        badge.hidden = false;
      }
    } catch {
      /* the badge is a convenience */
    }
  }
}

const INBOX_POLL_MS = 30_000;

/** Show the number of unread messages beside the header's Inbox link (hidden at 0). */
export async function refreshInboxBadge() {
  const badge = document.getElementById("inbox-badge");
  if (!badge || !token()) return;
  try {
    const { unread } = await api("/notifications/unread-count");
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
    document.getElementById("inbox-link").setAttribute("aria-label", unread ? `Inbox, ${unread} unread` : "Inbox");
  } catch {
    /* the badge is a convenience */
  }
}

/** Keep the badge current: now, every 30 s while the tab is visible, and when the tab is shown again. */
function watchInbox() {
  refreshInboxBadge();
  setInterval(() => { if (document.visibilityState === "visible") refreshInboxBadge(); }, INBOX_POLL_MS);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refreshInboxBadge(); });
}

fillHeader();

/**
 * Follow a task's server-sent events (fetch + a stream reader, so the bearer token can be sent).
 * `onEvent(name, data)` gets "task" events (the task) and "epoch" events (one epoch's figures).
 * Resolves with the last task when the stream ends (the task ended).
 */
export async function followTask(taskId, onEvent, { signal } = {}) {
  const response = await fetch(`${API}/tasks/${taskId}/events`, { headers: headers(), signal });
  if (!response.ok) throw new ApiError(response.status, describe(await response.json().catch(() => null), response.status));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (!data.length) continue;
      const parsed = JSON.parse(data.join("\n"));
      if (name === "task") last = parsed;
      onEvent(name, parsed);
    }
  }
  return last;
}

/** Render a task's steps as a list whose items carry the step's status as a class. */
export function stepList(task) {
  return el("ol", { class: "steps", "aria-label": "steps" },
    task.steps.map((step) => el("li", { class: step.status, "data-step": step.name }, `${step.name}: ${step.status}`)));
}

/**
 * A link that downloads `url` by fetching it and saving the bytes under `name`: a presigned object-store URL
 * (on another origin, where the `download` attribute is ignored), or with `authorized` an API route that
 * needs the viewer's token (its refusal's `detail` is shown).
 */
export function downloadLink(url, name, text = name, { authorized = false, attributes = {} } = {}) {
  const link = el("a", { href: url, download: name, ...attributes }, text);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    guarded(async () => {
      const current = authorized ? token() : null;
      const response = await fetch(url, { headers: current ? { Authorization: `Bearer ${current}` } : {} });
      if (!response.ok) {
        let detail = "";
        try { detail = (await response.json()).detail || ""; } catch { /* not JSON: the store's answer */ }
        throw new Error(`Could not download ${name} (HTTP ${response.status}). ${detail || "Reload the page and try again."}`);
      }
      const saved = URL.createObjectURL(await response.blob());
      const anchor = el("a", { href: saved, download: name });
      document.body.append(anchor);
      anchor.click();
      anchor.remove();
      setTimeout(() => URL.revokeObjectURL(saved), 10_000);
    });
  });
  return link;
}

/** Query-string parameter of the current page. */
export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Draw a line chart into an <svg>: series = [{name, color, points: [[x, y], ...]}]. Each point is a
 * <circle class="point" data-series=name>, so tests and screen readers can count them.
 */
export function lineChart(target, { title, series, yMin, yMax, xLabel = "epoch" }) {
  const width = 480, height = 300, left = 52, right = 16, top = 30, bottom = 44;
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(1, ...xs), x1 = Math.max(2, ...xs);
  let y0 = yMin ?? Math.min(...ys, 0), y1 = yMax ?? Math.max(...ys, 1);
  if (y1 - y0 < 1e-9) y1 = y0 + 1;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const py = (y) => top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom);
  target.setAttribute("viewBox", `0 0 ${width} ${height}`);
  target.setAttribute("role", "img");
  target.setAttribute("aria-label", `${title}: ${series.map((s) => `${s.name} ${s.points.length} points`).join(", ")}`);
  target.replaceChildren();
  target.append(svg("text", { x: left, y: 18, "font-size": 14, "font-weight": 600 }, title));
  for (let i = 0; i <= 4; i += 1) {
    const y = y0 + ((y1 - y0) * i) / 4;
    target.append(svg("line", { x1: left, x2: width - right, y1: py(y), y2: py(y), stroke: "#e3e6ec" }));
    target.append(svg("text", { x: left - 6, y: py(y) + 4, "font-size": 11, "text-anchor": "end" }, y.toFixed(2)));
  }
  const steps = Math.min(10, x1 - x0);
  for (let i = 0; i <= steps; i += 1) {
    const x = Math.round(x0 + ((x1 - x0) * i) / steps);
    target.append(svg("text", { x: px(x), y: height - bottom + 16, "font-size": 11, "text-anchor": "middle" }, x));
  }
  target.append(svg("text", { x: (left + width - right) / 2, y: height - 8, "font-size": 12, "text-anchor": "middle" }, xLabel));
  series.forEach((s, index) => {
    const points = s.points.filter((p) => p[1] !== null && p[1] !== undefined);
    if (points.length > 1) {
      target.append(svg("polyline", {
        fill: "none", stroke: s.color, "stroke-width": 2,
        points: points.map((p) => `${px(p[0])},${py(p[1])}`).join(" "),
      }));
    }
    for (const p of points) {
      const dot = svg("circle", { class: "point", "data-series": s.name, cx: px(p[0]), cy: py(p[1]), r: 3.5, fill: s.color });
      dot.append(svg("title", {}, `${s.name}, ${xLabel} ${p[0]}: ${p[1].toFixed(4)}`));
      target.append(dot);
    }
    target.append(svg("rect", { x: width - right - 120, y: 8 + index * 16, width: 10, height: 10, fill: s.color }));
    target.append(svg("text", { x: width - right - 104, y: 17 + index * 16, "font-size": 12 }, s.name));
  });
}

/** A number as the pages show it: integers as they are; an accuracy (a key naming one, a value in 0…1) as a
 * percentage with one decimal ("55.9 %"); other fractions with 4 significant digits (0.5588539838790894 → 0.5589).
 * Anything else as JSON. */
export function shownNumber(value, key = "") {
  if (typeof value !== "number") return typeof value === "string" ? value : JSON.stringify(value);
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  if (/accuracy|acc$|^acc/i.test(key) && value >= 0 && value <= 1) return `${(value * 100).toFixed(1)} %`;
  return String(Number(value.toPrecision(4)));
}

/** Reported metrics on one line: "accuracy 91.2 %, loss 0.3127". */
export function metricsText(reported) {
  return Object.entries(reported).map(([key, value]) => {
    const words = key.replaceAll("_", " ");
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return `${words} (${metricsText(value)})`;
    if (Array.isArray(value)) return `${words} ${value.map((item) => shownNumber(item, key)).join(", ")}`;
    if (/fraction$/i.test(key) && typeof value === "number" && value >= 0 && value <= 1) return `${words} ${Math.round(value * 100)} %`;
    return `${words} ${shownNumber(value, key)}`;
  }).join(", ");
}

/** Human-readable seconds between two ISO times (or until now). */
export function duration(start, end) {
  if (!start) return "";
  const seconds = ((end ? new Date(end) : new Date()) - new Date(start)) / 1000;
  return seconds < 90 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

/** The page (or API path, under /api/v1) of a resource: /resources/owner/name (a bare name for old data). */
/** A labelled form field with its help on a line under it (described by it for screen readers). */
export function field(id, label, control, help) {
  control.id = id;
  if (!control.name) control.name = id;
  if (help) control.setAttribute("aria-describedby", `${id}-help`);
  return el("div", { class: "field" },
    el("label", { for: id }, label), control, help ? el("div", { class: "hint", id: `${id}-help` }, help) : null);
}

/** A labelled control with a short hint inside its label (the compact forms of Build and Train). */
export function inlineField(id, labelText, control, hint) {
  return el("div", {}, el("label", { for: id }, labelText, hint ? el("span", { class: "hint" }, ` ${hint}`) : null), control);
}

/** A <select> of [value, text] options with `value` selected. */
export function select(options, value) {
  return el("select", {}, options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
}

/** A dataset's page and API path: /datasets/owner/slug (an id, e.g. from a task, works as well). */
export function datasetPath(dataset) {
  return `/datasets/${(dataset.ref || dataset.id).split("/").map(encodeURIComponent).join("/")}`;
}

export function resourcePath(resource) {
  return `/resources/${(resource.ref || resource.name).split("/").map(encodeURIComponent).join("/")}`;
}
