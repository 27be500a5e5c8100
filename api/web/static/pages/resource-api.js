// The API tab: the same run as the try-it box, from a terminal (curl) and from Python (httpx), with this
// model's real address and version, and placeholders for the token and the photo.
import { el } from "/static/api.js";

function paramsFor(kind) {
  if (kind === "segmenter.sam") return { mode: "auto", outputs: ["hard", "blended", "json"], auto: { points_per_side: 16 } };
  if (kind.startsWith("classifier.")) return { top_k: 5 };
  return {};
}

function curl(base, task) {
  const body = JSON.stringify(task);
  return [
    "# A token: make one on the API tokens page (/tokens), then",
    "export COMMONS_TOKEN=<your token>",
    "",
    "# 1. upload a photo; note the \"id\" it answers",
    `curl -s -H "Authorization: Bearer $COMMONS_TOKEN" -F file=@photo.jpg ${base}/uploads`,
    "",
    "# 2. run the model on it; note the task's \"id\"",
    `curl -s -H "Authorization: Bearer $COMMONS_TOKEN" -H "Content-Type: application/json" \\`,
    `  -d '${body}' ${base}/tasks`,
    "",
    "# 3. read the task until its status is succeeded; its outputs list presigned URLs",
    `curl -s -H "Authorization: Bearer $COMMONS_TOKEN" ${base}/tasks/<task id>`,
  ].join("\n");
}

function python(base, task) {
  const params = JSON.stringify(task.params);
  return [
    "import os, time",
    "",
    "import httpx",
    "",
    `api = httpx.Client(base_url="${base}", timeout=60,`,
    '                   headers={"Authorization": f"Bearer {os.environ[\'COMMONS_TOKEN\']}"})',
    'with open("photo.jpg", "rb") as photo:',
    '    upload = api.post("/uploads", files={"file": photo}).raise_for_status().json()',
    "task = api.post(\"/tasks\", json={",
    `    "resource": "${task.resource}", "version": ${JSON.stringify(task.version)}, "mode": "infer",`,
    `    "inputs": [upload["id"]], "params": ${params},`,
    "}).raise_for_status().json()",
    'while task["status"] not in ("succeeded", "failed", "cancelled"):',
    "    time.sleep(1)",
    '    task = api.get(f"/tasks/{task[\'id\']}").raise_for_status().json()',
    'for output in task["outputs"]:',
    '    print(output["name"], output["url"])',
  ].join("\n");
}

function snippet(id, title, text) {
  return el("figure", { class: "snippet" },
    el("figcaption", {}, el("strong", {}, title)),
    el("pre", { class: "mono", id, tabindex: "0" }, el("code", {}, text)));
}

/** The API tab's panel: snippets for the latest version, or version 1 style placeholders when there is none. */
export function apiPanel(resource) {
  const base = `${location.origin}/api/v1`;
  const version = resource.latest_version || 1;
  const task = { resource: resource.ref, version, mode: "infer", inputs: ["<upload id>"], params: paramsFor(resource.kind) };
  return el("section", { "aria-label": "API" },
    el("p", {}, `Run ${resource.ref} (version ${version}, the latest) from a program. Every page of the commons uses the same REST API; `,
      el("a", { href: "/docs" }, "its reference"), " lists everything else."),
    resource.latest_version ? null : el("p", { class: "notice" }, "No version is published yet: the snippets will work once one is."),
    snippet("api-curl", "curl", curl(base, task)),
    snippet("api-python", "Python (httpx)", python(base, task)));
}
