import { api, el, guarded, requireUser } from "/static/api.js";

const form = document.getElementById("token-form");
const result = document.getElementById("token-result");

guarded(async () => {
  const user = await requireUser(document.getElementById("tokens"));
  if (!user) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = new URLSearchParams({ username: user.username, password: form.password.value });
      const answer = await api("/auth/token", { method: "POST", form: body });
      result.hidden = false;
      result.replaceChildren(
        el("p", {}, `A token for ${user.username}, valid for ${Math.round(answer.expires_in / 60)} minutes:`),
        el("p", { class: "mono", id: "new-token" }, answer.access_token),
        el("p", { class: "hint" }, `curl -H "Authorization: Bearer <token>" ${location.origin}/api/v1/users/me`),
      );
      form.reset();
    });
  });
});
