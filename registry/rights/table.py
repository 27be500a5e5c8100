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

from dataclasses import dataclass, replace
from typing import Final, Literal, cast, get_args

Need = Literal[
    "anyone", "signed-in", "read", "use", "modify", "owner", "submitter", "self", "admin", "member", "maintainer"
]
On = Literal["-", "account", "resource", "dataset", "task", "group"]
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
SIGNED_IN: Final = "(signed-in)"  # after a `read`: a read that still needs an account


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # as in the OpenAPI, under /api/v1
    on: On
    need: Need
    what: str
    note: str = ""
    account: bool = False  # a read that still needs sign-in (every change does)


# One route a line: method, path, what the path names, least role, what it does; an indented `also:` line under
# it adds a note. Columns are separated by white space (only the last one, `what`, holds spaces).
TABLE: Final = """
POST   /users                                       -        anyone     sign up
POST   /auth/token                                  -        anyone     sign in
GET    /users/me                                    account  signed-in  who am I
GET    /users/me/tokens                             account  self       list API tokens
POST   /users/me/tokens                             account  self       create an API token
       also: a sign-in session only
DELETE /users/me/tokens/{token_id}                  account  self       revoke an API token
POST   /users/me/password                           account  self       change your password
       also: a sign-in session only
POST   /users/me/signout                            account  self       end your sign-in sessions
       also: a sign-in session only
PATCH  /users/{username}                            account  admin      disable or enable an account
GET    /admin/usage                                 -        admin      read every user's usage
       also: active tasks, storage, tokens, quotas
POST   /resources                                   -        signed-in  create a resource (you own it)
GET    /resources                                   -        anyone     list resources
       also: only those you may read
GET    /resources/{name}                            resource read       describe a resource
PATCH  /resources/{name}                            resource modify     edit title, description, citation, license
       also: owner for visibility, derivatives, download; a bound derivative cannot be made public (409)
POST   /resources/{name}/versions                   resource modify     publish a version
GET    /resources/{name}/versions                   resource read       list versions
GET    /resources/{name}/versions/{version}         resource read       describe a version
GET    /resources/{name}/versions/{version}/files/{file_name} resource read       download a version's file
       also: owner only when it or a source is run-only (download: false)
GET    /resources/{name}/versions/{version}/card    resource read       read a version's model card
GET    /resources/{name}/versions/{version}/crate   resource read       download a version as an RO-Crate
       also: its files' bytes only where you may download them (else their URLs and sha256)
PUT    /resources/{name}/versions/{version}/card    resource modify     write a version's model card
       also: ?preview=true renders without keeping; over 64 KiB: 413
POST   /resources/{name}/grants                     resource owner      grant use or modify
       also: refused (409) beyond a bound derivative's sources' audience
GET    /resources/{name}/grants                     resource owner      list grants
DELETE /resources/{name}/grants/{grant_id}          resource owner      revoke a grant
POST   /resources/{name}/access-requests            resource read       ask the owner for a right
GET    /resources/{name}/access-requests            resource read(signed-in) list access requests
       also: owner: all; others: their own
POST   /resources/{name}/access-requests/{request_id}/approve resource owner      approve a request
POST   /resources/{name}/access-requests/{request_id}/deny resource owner      deny a request
GET    /access-requests                             -        signed-in  inbox of requests
       also: on items you own and on items made from them
POST   /uploads                                     -        signed-in  upload a photo for a task
GET    /uploads/{upload_id}/file                    account  self       read back a photo you uploaded
POST   /tasks                                       resource use        submit a task on a version
       also: `use` on its dataset too; train/edit/export publish only where you may (modify, or a new resource of yours)
GET    /tasks                                       -        signed-in  list your tasks
GET    /tasks/{task_id}                             task     submitter  read a task
       also: weights: see files; a succeeded training's public view to whoever may use what it published
GET    /tasks/{task_id}/thumbnail                   task     submitter  preview a task (a small JPEG)
       also: and whoever reads its public view: from the outputs they may read
GET    /tasks/{task_id}/outputs.zip                 task     submitter  download a task's outputs as one zip
       also: and whoever reads its public view: the outputs they may read
GET    /tasks/{task_id}/crate                       task     submitter  download a task as a Workflow Run RO-Crate
       also: and whoever reads its public view: the outputs they may read
GET    /tasks/{task_id}/events                      task     submitter  follow a task
GET    /tasks/{task_id}/logs                        task     submitter  read a task's log
GET    /tasks/{task_id}/metrics                     task     submitter  read a task's epochs
       also: and whoever reads its public view
POST   /tasks/{task_id}/cancel                      task     submitter  cancel a task
POST   /tasks/{task_id}/reproduce                   task     submitter  re-run a task
       also: and `use` on its version and dataset now
GET    /label-studio/{owner}/{name}/{version}/health resource use        Label Studio: health
       also: basic auth: user name and an API token; see Label Studio in the README
POST   /label-studio/{owner}/{name}/{version}/setup resource use        Label Studio: connect a project
POST   /label-studio/{owner}/{name}/{version}/predict resource use        Label Studio: predict
       also: each prediction is an infer task of the caller's (quotas, lanes)
POST   /label-studio/{owner}/{name}/{version}/webhook resource use        Label Studio: take an event
POST   /datasets                                    -        signed-in  create a dataset (you own it)
GET    /datasets                                    -        anyone     list datasets
       also: only those you may read
POST   /datasets/coco                               -        signed-in  import a COCO zip as a new dataset
POST   /datasets/label-studio                       -        signed-in  import a Label Studio export
GET    /datasets/{dataset_id}                       dataset  read       describe a dataset
PATCH  /datasets/{dataset_id}                       dataset  modify     edit name and description
       also: owner for visibility and derivatives; a bound derivative cannot be made public (409)
DELETE /datasets/{dataset_id}                       dataset  owner      delete a dataset
       also: 409 while items are made from it
POST   /datasets/{dataset_id}/classes               dataset  modify     add a class
GET    /datasets/{dataset_id}/classes               dataset  read       list classes
PATCH  /datasets/{dataset_id}/classes/{class_id}    dataset  modify     rename a class
DELETE /datasets/{dataset_id}/classes/{class_id}    dataset  modify     delete a class
POST   /datasets/{dataset_id}/items                 dataset  modify     add photos
GET    /datasets/{dataset_id}/items                 dataset  read       list photos
GET    /datasets/{dataset_id}/items/{item_id}       dataset  read       read a photo
PATCH  /datasets/{dataset_id}/items/{item_id}       dataset  modify     relabel a photo
DELETE /datasets/{dataset_id}/items/{item_id}       dataset  modify     delete a photo
POST   /datasets/{dataset_id}/import                dataset  modify     import a zip
GET    /datasets/{dataset_id}/export                dataset  read       export as a zip
GET    /datasets/{dataset_id}/coco                  dataset  read       export as COCO (zip or JSON)
POST   /datasets/{dataset_id}/augment               dataset  use        make an augmented copy
       also: the copy is bound by the source
POST   /datasets/{dataset_id}/grants                dataset  owner      grant use or modify
       also: refused (409) beyond a bound derivative's sources' audience
GET    /datasets/{dataset_id}/grants                dataset  owner      list grants
DELETE /datasets/{dataset_id}/grants/{grant_id}     dataset  owner      revoke a grant
POST   /datasets/{dataset_id}/access-requests       dataset  read       ask the owner for a right
GET    /datasets/{dataset_id}/access-requests       dataset  read(signed-in) list access requests
       also: owner: all; others: their own
POST   /datasets/{dataset_id}/access-requests/{request_id}/approve dataset  owner      approve a request
POST   /datasets/{dataset_id}/access-requests/{request_id}/deny dataset  owner      deny a request
GET    /notifications                               account  self       read your inbox
GET    /notifications/unread-count                  account  self       count your unread messages
POST   /notifications/{notification_id}/read        account  self       mark a message read
POST   /notifications/read-all                      account  self       mark every message read
GET    /webhooks                                    account  self       list your webhooks
POST   /webhooks                                    account  self       register a webhook for your items' events
GET    /webhooks/default/secret                     account  self       the key your tasks' webhooks are signed with
GET    /webhooks/deliveries                         account  self       list your webhook deliveries
GET    /webhooks/deliveries/{delivery_id}           account  self       read a delivery and its body
GET    /webhooks/{webhook_id}                       account  self       see a webhook
GET    /webhooks/{webhook_id}/secret                account  self       read a webhook's signing key
GET    /webhooks/{webhook_id}/deliveries            account  self       read a webhook's delivery log
POST   /webhooks/{webhook_id}/ping                  account  self       send a webhook a test event
DELETE /webhooks/{webhook_id}                       account  self       delete a webhook
GET    /audit                                       -        signed-in  read the audit trail
       also: events on items you own; admins: all
POST   /groups                                      -        signed-in  create a group (you own and maintain it)
GET    /groups                                      -        signed-in  list your groups
GET    /groups/{group_name}                         group    member     see a group and its members
POST   /groups/{group_name}/members                 group    maintainer add a member or change a role
DELETE /groups/{group_name}/members/{username}      group    maintainer remove a member
       also: a member may remove themself; removal ends the group's rights for them at once
DELETE /groups/{group_name}                         group    owner      delete a group
       also: and every grant naming it
GET    /blocks/catalog                              -        anyone     the layer-block catalog
POST   /blocks/validate                             -        anyone     check a stack of blocks
GET    /health                                      -        anyone     health
"""


def _parse(table: str) -> tuple[Rule, ...]:
    """The rules of a table written as `TABLE` is; ValueError naming the line that is not."""
    rules: list[Rule] = []
    for number, line in enumerate(table.splitlines(), start=1):
        if not line.strip():
            continue
        if line[0].isspace():
            note = line.strip().removeprefix("also: ")
            if not rules or rules[-1].note or note == line.strip():
                raise ValueError(f"rights table line {number}: an `also:` line belongs under one route")
            rules[-1] = replace(rules[-1], note=note)
            continue
        rules.append(_rule(line, number))
    return tuple(rules)


def _rule(line: str, number: int) -> Rule:
    cells = line.split(maxsplit=4)
    if len(cells) != 5:
        raise ValueError(f"rights table line {number}: expected method, path, on, need and what: {line!r}")
    method, path, on, need, what = cells
    account = need.endswith(SIGNED_IN)
    need = need.removesuffix(SIGNED_IN)
    if method not in METHODS or on not in get_args(On) or need not in get_args(Need):
        raise ValueError(f"rights table line {number}: unknown method, on or need in {line!r}")
    return Rule(method, path, cast(On, on), cast(Need, need), what, account=account)


RULES: Final[tuple[Rule, ...]] = _parse(TABLE)

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
