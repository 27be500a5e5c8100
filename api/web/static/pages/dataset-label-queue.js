// Labels on their way to the server: at most PARALLEL requests at once, and one photo's changes in the order
// they were made (a photo relabelled twice in a row ends with the second label, whatever the network does).

import { api } from "/static/api.js";

const PARALLEL = 4;

export class LabelQueue {
  constructor(base) {
    this.base = base;
    this.running = 0;
    this.waiting = [];
    this.chains = new Map(); // item id → the promise of its latest change
    this.pending = new Set();
  }

  /** Send `{class: label}` for `itemId` after the item's earlier changes; resolves with the updated item. */
  send(itemId, label) {
    const previous = this.chains.get(itemId) || Promise.resolve();
    const sent = previous.then(() => this.#bounded(() =>
      api(`${this.base}/items/${itemId}`, { method: "PATCH", json: { class: label } })));
    const settled = sent.then(() => undefined, () => undefined);
    this.chains.set(itemId, settled);
    this.pending.add(settled);
    settled.then(() => {
      this.pending.delete(settled);
      if (this.chains.get(itemId) === settled) this.chains.delete(itemId);
    });
    return sent;
  }

  /** Resolves once every change sent so far is answered (successfully or not). */
  async drained() {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  async #bounded(request) {
    if (this.running < PARALLEL) this.running += 1;
    else await new Promise((resolve) => this.waiting.push(resolve)); // the slot is handed over, not freed
    try {
      return await request();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
