import { api, guarded, param } from "/static/api.js";
import { safeNext, signIn } from "/static/pages/signin.js";

const form = document.getElementById("signup-form");
form.addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const username = form.username.value;
    const password = form.password.value;
    await api("/users", { method: "POST", json: { username, password } });
    await signIn(username, password);
    location.href = safeNext(param("next"));
  });
});
