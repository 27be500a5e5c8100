// The dataset page's "Add photos" card: photos (optionally labelled on the way in) or a zip of class folders.
// A bad file in a batch is skipped and named with its reason; the good ones are kept.

import { api, el, guarded } from "/static/api.js";

/** Run `send` with `button` disabled and `busy` in `status`; `status` is cleared if `send` fails. */
async function whileSending(button, status, busy, send) {
  button.disabled = true;
  status.textContent = busy;
  try {
    await send();
  } catch (error) {
    status.textContent = "";
    throw error;
  } finally {
    button.disabled = false;
  }
}

function plural(count, one, many) {
  return count === 1 ? `1 ${one}` : `${count} ${many}`;
}

/** `uploadLabel`: the "Label them as" select (filled by the page); `reloadAll()`: show the new photos. */
export function uploadCard(base, uploadLabel, reloadAll) {
  const files = el("input", { id: "photos", type: "file", multiple: true, accept: "image/png,image/jpeg,image/tiff,image/bmp,image/webp" });
  const zip = el("input", { id: "zip", type: "file", accept: ".zip,application/zip" });
  const status = el("p", { class: "hint", id: "upload-status", "aria-live": "polite" });
  const rejected = el("ul", { class: "rejected", id: "upload-rejected", "aria-label": "Files not added", hidden: true });
  const uploadPhotos = el("button", { type: "button", id: "upload-photos" }, "Upload photos");
  const importZip = el("button", { type: "button", id: "import-zip", class: "secondary" }, "Import zip");
  const showRejected = (list) => {
    rejected.replaceChildren(...list.map((entry) => el("li", { "data-file": entry.name }, entry.reason)));
    rejected.hidden = !list.length;
  };
  uploadPhotos.addEventListener("click", () => guarded(async () => {
    if (!files.files.length) throw new Error("Choose one or more photos first.");
    showRejected([]);
    const form = new FormData();
    for (const file of files.files) form.append("files", file);
    if (uploadLabel.value) form.append("class", uploadLabel.value);
    await whileSending(uploadPhotos, status, `Uploading ${files.files.length} photos…`, async () => {
      const report = await api(`${base}/items?report=true`, { method: "POST", form });
      status.textContent = `Added ${plural(report.items.length, "photo", "photos")}.` + (report.rejected.length
        ? ` Skipped ${plural(report.rejected.length, "file", "files")} that could not be added:` : "");
      showRejected(report.rejected);
      files.value = "";
      await reloadAll();
    });
  }));
  importZip.addEventListener("click", () => guarded(async () => {
    if (!zip.files.length) throw new Error("Choose a zip file first.");
    showRejected([]);
    const form = new FormData();
    form.append("file", zip.files[0]);
    await whileSending(importZip, status, "Importing…", async () => {
      const outcome = await api(`${base}/import`, { method: "POST", form });
      status.textContent = `Added ${outcome.added} photos (${outcome.existing} already there)` +
        (outcome.classes_created.length ? `; new classes: ${outcome.classes_created.join(", ")}.` : ".");
      zip.value = "";
      await reloadAll();
    });
  }));
  return el("section", { class: "card", id: "upload" },
    el("h2", {}, "Add photos"),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "photos" }, "Photos ", el("span", { class: "hint" }, "(PNG, JPEG, TIFF, BMP or WebP; several at once)")), files),
      el("div", {}, el("label", { for: "upload-class" }, "Label them as"), uploadLabel),
      uploadPhotos),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "zip" }, "Or a zip of class folders ", el("span", { class: "hint" }, "(each top-level folder is a class)")), zip),
      importZip),
    status,
    rejected);
}
