import { api, currentUser, el, guarded, metricsText, resourcePath } from "/static/api.js";

const root = document.getElementById("explore");

function metrics(reported) {
  if (!reported || !Object.keys(reported).length) return null;
  return el("p", { class: "hint" }, "Reported: ", metricsText(reported));
}

function card(resource) {
  const rights = resource.permissions.length ? resource.permissions.join(", ") : "none";
  return el("article", { class: "card", "data-resource": resource.name },
    el("h2", {}, el("a", { href: resourcePath(resource) }, resource.title)),
    el("p", { class: "mono" }, resource.ref || resource.name),
    el("p", {}, `${resource.kind} · by ${resource.owner} · `,
      el("span", { class: "badge" + (resource.visibility === "public" ? "" : " secondary") }, resource.visibility)),
    el("p", {}, resource.latest_version ? `Latest version v${resource.latest_version}` : "No version yet"),
    resource.citation ? el("p", { class: "hint" }, `Cite: ${resource.citation}`) : null,
    el("p", { class: "hint" }, `Your rights: ${rights}`),
  );
}

/** Each card's reported metrics, fetched a few at a time in page order, so the first cards fill first and
 * a long list never sends hundreds of requests at once. */
async function fillMetrics(resources, cards, { concurrency = 4 } = {}) {
  const queue = resources.map((r, i) => [r, cards[i]]).filter(([r]) => r.latest_version);
  async function next() {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const [resource, node] = item;
      const latest = await api(`${resourcePath(resource)}/versions/latest`).catch(() => null);
      const shown = latest ? metrics(latest.reported_metrics) : null;
      if (shown) node.append(shown);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, next));
}

guarded(async () => {
  const user = await currentUser();
  const resources = await api("/resources?limit=500");
  if (!resources.length) {
    root.replaceChildren(el("p", { class: "notice", id: "no-models" }, "No models to show yet. ", ...(user
      ? [el("a", { href: "/provide" }, "Provide one"), ": a ResNet-18 version published without files is an untrained starter anyone you share it with can train."]
      : [el("a", { href: "/signin?next=/explore" }, "Sign in"), " to see the models shared with you, or to provide one."])));
    return;
  }
  const cards = resources.map((r) => card(r));
  root.replaceChildren(...[
    user ? null : el("p", { class: "notice" }, "Showing public models. ", el("a", { href: "/signin?next=/explore" }, "Sign in"),
      " to see those shared with you."),
    el("div", { class: "grid" }, cards),
  ].filter(Boolean));
  await fillMetrics(resources, cards);
});
