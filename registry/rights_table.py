"""The rights table: every route of the API and the least role that may call it.

Roles, from least to most: `none` (anonymous or a stranger), `use` and `modify` (granted), `owner`, `admin`.
What a route needs:

- `anyone`: no sign-in. Every other route needs an account to change anything; `read` routes answer anonymous
  callers on public items unless marked "(signed in)".
- `signed-in`: any account.
- `read`: anyone on a public item; `use` or more on a private one.
- `use`, `modify`, `owner`: that role or more on the item named in the path.
- `submitter`: the user who submitted the task (and admins).
- `self`: the account's own things (and nobody else's).
- `admin`: administrators only.
- `member`, `maintainer` (groups): that role in the group named in the path, or its owner, or an admin.

On every item the derivation bounds of `registry.rights` come first: an item made from a private source
that keeps its derivatives is read by nobody who cannot read that source (its owner keeps `owner` only to
list, delete or ask). The README and docs/rights.md show this table (`render_markdown`); the matrix test
(tests/api/test_rights_matrix.py) walks every route of the OpenAPI against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Need = Literal[
    "anyone", "signed-in", "read", "use", "modify", "owner", "submitter", "self", "admin", "member", "maintainer"
]
On = Literal["-", "account", "resource", "dataset", "task", "group"]


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # as in the OpenAPI, under /api/v1
    on: On
    need: Need
    what: str
    note: str = ""
    account: bool = False  # a read that still needs sign-in (every change does)


RULES: Final[tuple[Rule, ...]] = (
    Rule("POST", "/users", "-", "anyone", "sign up"),
    Rule("POST", "/auth/token", "-", "anyone", "sign in"),
    Rule("GET", "/users/me", "account", "signed-in", "who am I"),
    Rule("GET", "/users/me/tokens", "account", "self", "list API tokens"),
    Rule("POST", "/users/me/tokens", "account", "self", "create an API token", "a sign-in session only"),
    Rule("DELETE", "/users/me/tokens/{token_id}", "account", "self", "revoke an API token"),
    Rule("POST", "/users/me/password", "account", "self", "change your password", "a sign-in session only"),
    Rule("POST", "/users/me/signout", "account", "self", "end your sign-in sessions", "a sign-in session only"),
    Rule("PATCH", "/users/{username}", "account", "admin", "disable or enable an account"),
    Rule("GET", "/admin/usage", "-", "admin", "read every user's usage", "active tasks, storage, tokens, quotas"),
    Rule("POST", "/resources", "-", "signed-in", "create a resource (you own it)"),
    Rule("GET", "/resources", "-", "anyone", "list resources", "only those you may read"),
    Rule("GET", "/resources/{name}", "resource", "read", "describe a resource"),
    Rule(
        "PATCH",
        "/resources/{name}",
        "resource",
        "modify",
        "edit title, description, citation, license",
        "owner for visibility, derivatives, download; a bound derivative cannot be made public (409)",
    ),
    Rule("POST", "/resources/{name}/versions", "resource", "modify", "publish a version"),
    Rule("GET", "/resources/{name}/versions", "resource", "read", "list versions"),
    Rule("GET", "/resources/{name}/versions/{version}", "resource", "read", "describe a version"),
    Rule(
        "GET",
        "/resources/{name}/versions/{version}/files/{file_name}",
        "resource",
        "read",
        "download a version's file",
        "owner only when it or a source is run-only (download: false)",
    ),
    Rule(
        "POST",
        "/resources/{name}/grants",
        "resource",
        "owner",
        "grant use or modify",
        "refused (409) beyond a bound derivative's sources' audience",
    ),
    Rule("GET", "/resources/{name}/grants", "resource", "owner", "list grants"),
    Rule("DELETE", "/resources/{name}/grants/{grant_id}", "resource", "owner", "revoke a grant"),
    Rule("POST", "/resources/{name}/access-requests", "resource", "read", "ask the owner for a right"),
    Rule(
        "GET",
        "/resources/{name}/access-requests",
        "resource",
        "read",
        "list access requests",
        "owner: all; others: their own",
        account=True,
    ),
    Rule("POST", "/resources/{name}/access-requests/{request_id}/approve", "resource", "owner", "approve a request"),
    Rule("POST", "/resources/{name}/access-requests/{request_id}/deny", "resource", "owner", "deny a request"),
    Rule(
        "GET",
        "/access-requests",
        "-",
        "signed-in",
        "inbox of requests",
        "on items you own and on items made from them",
    ),
    Rule("POST", "/uploads", "-", "signed-in", "upload a photo for a task"),
    Rule(
        "POST",
        "/tasks",
        "resource",
        "use",
        "submit a task on a version",
        "`use` on its dataset too; train/edit/export publish only where you may (modify, or a new resource of yours)",
    ),
    Rule("GET", "/tasks", "-", "signed-in", "list your tasks"),
    Rule("GET", "/tasks/{task_id}", "task", "submitter", "read a task", "outputs carrying weights: see files"),
    Rule("GET", "/tasks/{task_id}/events", "task", "submitter", "follow a task"),
    Rule("GET", "/tasks/{task_id}/logs", "task", "submitter", "read a task's log"),
    Rule("GET", "/tasks/{task_id}/metrics", "task", "submitter", "read a task's epochs"),
    Rule("POST", "/tasks/{task_id}/cancel", "task", "submitter", "cancel a task"),
    Rule(
        "POST",
        "/tasks/{task_id}/reproduce",
        "task",
        "submitter",
        "re-run a task",
        "and `use` on its version and dataset now",
    ),
    Rule("POST", "/datasets", "-", "signed-in", "create a dataset (you own it)"),
    Rule("GET", "/datasets", "-", "anyone", "list datasets", "only those you may read"),
    Rule("GET", "/datasets/{dataset_id}", "dataset", "read", "describe a dataset"),
    Rule(
        "PATCH",
        "/datasets/{dataset_id}",
        "dataset",
        "modify",
        "edit name and description",
        "owner for visibility and derivatives; a bound derivative cannot be made public (409)",
    ),
    Rule(
        "DELETE",
        "/datasets/{dataset_id}",
        "dataset",
        "owner",
        "delete a dataset",
        "409 while items are made from it",
    ),
    Rule("POST", "/datasets/{dataset_id}/classes", "dataset", "modify", "add a class"),
    Rule("GET", "/datasets/{dataset_id}/classes", "dataset", "read", "list classes"),
    Rule("PATCH", "/datasets/{dataset_id}/classes/{class_id}", "dataset", "modify", "rename a class"),
    Rule("DELETE", "/datasets/{dataset_id}/classes/{class_id}", "dataset", "modify", "delete a class"),
    Rule("POST", "/datasets/{dataset_id}/items", "dataset", "modify", "add photos"),
    Rule("GET", "/datasets/{dataset_id}/items", "dataset", "read", "list photos"),
    Rule("GET", "/datasets/{dataset_id}/items/{item_id}", "dataset", "read", "read a photo"),
    Rule("PATCH", "/datasets/{dataset_id}/items/{item_id}", "dataset", "modify", "relabel a photo"),
    Rule("DELETE", "/datasets/{dataset_id}/items/{item_id}", "dataset", "modify", "delete a photo"),
    Rule("POST", "/datasets/{dataset_id}/import", "dataset", "modify", "import a zip"),
    Rule("GET", "/datasets/{dataset_id}/export", "dataset", "read", "export as a zip"),
    Rule(
        "POST",
        "/datasets/{dataset_id}/augment",
        "dataset",
        "use",
        "make an augmented copy",
        "the copy is bound by the source",
    ),
    Rule(
        "POST",
        "/datasets/{dataset_id}/grants",
        "dataset",
        "owner",
        "grant use or modify",
        "refused (409) beyond a bound derivative's sources' audience",
    ),
    Rule("GET", "/datasets/{dataset_id}/grants", "dataset", "owner", "list grants"),
    Rule("DELETE", "/datasets/{dataset_id}/grants/{grant_id}", "dataset", "owner", "revoke a grant"),
    Rule("GET", "/audit", "-", "signed-in", "read the audit trail", "events on items you own; admins: all"),
    Rule("POST", "/groups", "-", "signed-in", "create a group (you own and maintain it)"),
    Rule("GET", "/groups", "-", "signed-in", "list your groups"),
    Rule("GET", "/groups/{group_name}", "group", "member", "see a group and its members"),
    Rule("POST", "/groups/{group_name}/members", "group", "maintainer", "add a member or change a role"),
    Rule(
        "DELETE",
        "/groups/{group_name}/members/{username}",
        "group",
        "maintainer",
        "remove a member",
        "a member may remove themself; removal ends the group's rights for them at once",
    ),
    Rule("DELETE", "/groups/{group_name}", "group", "owner", "delete a group", "and every grant naming it"),
    Rule("GET", "/blocks/catalog", "-", "anyone", "the layer-block catalog"),
    Rule("POST", "/blocks/validate", "-", "anyone", "check a stack of blocks"),
    Rule("GET", "/health", "-", "anyone", "health"),
)

ROLES: Final = ("none", "use", "modify", "owner", "admin")
_RANK: Final = {role: rank for rank, role in enumerate(ROLES)}


def allowed(rule: Rule, *, role: str, public: bool, anonymous: bool = False) -> bool:
    """Whether `role` may call the route on an item (public or private), by the table alone. An anonymous
    caller (role `none`, no account) may only read: every change, and reads marked `account`, need sign-in."""
    if rule.need == "anyone":
        return True
    if anonymous and (rule.need != "read" or rule.account or rule.method != "GET"):
        return False
    if rule.need in ("signed-in", "self"):
        return True
    if rule.need == "read":
        return public or _RANK[role] >= _RANK["use"]
    if rule.need == "submitter":
        return role in ("owner", "admin")  # the task's submitter is its owner
    if rule.need in ("member", "maintainer"):  # groups: use ~ member, modify ~ maintainer
        return _RANK[role] >= _RANK["use" if rule.need == "member" else "modify"]
    return _RANK[role] >= _RANK[rule.need]


def rule_for(method: str, path: str) -> Rule | None:
    return next((rule for rule in RULES if rule.method == method and rule.path == path), None)


def render_markdown() -> str:
    """The table as Markdown (README and docs/rights.md carry it verbatim; a test keeps them in step)."""
    lines = ["| method | path (under /api/v1) | on | least role | what | also |", "|---|---|---|---|---|---|"]
    for rule in RULES:
        path = rule.path.replace("|", "\\|")
        need = f"**{rule.need}**" + (" (signed in)" if rule.account else "")
        lines.append(f"| {rule.method} | `{path}` | {rule.on} | {need} | {rule.what} | {rule.note} |")
    return "\n".join(lines) + "\n"
