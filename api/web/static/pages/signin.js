import { api, guarded, param, setToken } from "/static/api.js";

/** Sign in with the OAuth2 password form; the token is kept in this browser for the pages' API calls. */
export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const answer = await api("/auth/token", { method: "POST", form });
  setToken(answer.access_token);
}

/**
 * Where to go after signing in or up: `next` only when it is a path on this commons — one '/' not followed by
 * another '/' or a '\' (browsers read "//host" and "/\host" as another site), no control characters or spaces
 * (browsers drop tabs and newlines, so "/\t/host" would become "//host"), and resolving to this origin.
 * Anything else (an absolute URL, "javascript:…") goes to "/". No `next` at all: Explore.
 */
export function safeNext(next) {
  if (next === null || next === undefined || next === "") return "/explore";
  if (!/^\/(?![/\\])/.test(next) || /[\u0000-\u0020\u007f\\]/.test(next)) return "/";
  let target;
  try {
    target = new URL(next, location.origin);
  } catch {
    return "/";
  }
  if (target.origin !== location.origin) return "/";
  return target.pathname + target.search + target.hash;
}

const form = document.getElementById("signin-form");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      await signIn(form.username.value, form.password.value);
      location.href = safeNext(param("next"));
    });
  });
}
