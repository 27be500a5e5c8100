import { api, guarded, param, setToken } from "/static/api.js";

/** Sign in with the OAuth2 password form; the token is kept in this browser for the pages' API calls. */
export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const answer = await api("/auth/token", { method: "POST", form });
  setToken(answer.access_token);
}

const form = document.getElementById("signin-form");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      await signIn(form.username.value, form.password.value);
      const next = param("next");
      location.href = next && next.startsWith("/") ? next : "/explore";
    });
  });
}
