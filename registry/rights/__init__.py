"""The rights model: what a caller may do with a resource or a dataset — the one place that decides.

Rights on an item (a resource or a dataset) come from three things:

1. **Role.** Admins and the owner hold every right (`use`, `modify`, `own`); a grant to the caller, to a group
   of theirs or to everyone adds `use` or `modify` (`modify` implies `use`). A public item may be read by anyone.
2. **Derivation bounds.** An item made from others (a trained, edited or exported version's resource, an
   augmented dataset) has lineage edges to all its sources, transitively (`registry.models.Lineage`). A
   source *binds* while it is private and keeps `derivatives: private` (the default). Nobody but an admin may
   read an item one of whose binding sources they cannot read; its owner keeps only `own` (to see it listed,
   delete it or ask for access), never `use`. Nothing is deleted: when the source is made public, releases
   its derivatives, or grants again, the item is readable again.
3. **Download policy.** A resource marked `download: false` is run-only: its files — and the files of anything
   made from it — are presigned to its owner (and admins) alone.

Every rule is written once for both kinds of item: `items` describes each kind (its table, its grants table,
how a refusal names it). The modules:

- `decision`: `Access` and `rights` for one item or many (role, then derivation bounds);
- `lineage`: what an item was made from (`sources_of`, `record_lineage`);
- `bounds`: refusing to open an item beyond its sources' audience, the owner-only policy fields, and what an
  item shows of its sources;
- `download`: the run-only policy;
- `sql`: the same decision as WHERE clauses, for list pages;
- `lookup`: `resource_for` / `dataset_for` / `require`, the check every route and flow step makes;
- `grants` and `requests`: grants (resources and datasets) and access requests (resources);
- `table`: which route needs which role (`RULES`), rendered in docs/rights.md and walked by
  tests/api/test_rights_matrix.py.

What the other modules need is importable from the package itself (`from registry.rights import resource_for`).
"""

from __future__ import annotations

from registry.rights.bounds import (
    bound_message,
    check_audience,
    check_open_audience,
    check_policy_change,
    sources_public,
)
from registry.rights.decision import (
    ALL_RIGHTS,
    OWNER_WHEN_BOUND,
    Access,
    access,
    access_many,
    binds,
    grants_reaching,
    implied_rights,
    rights,
    rights_on_many,
)
from registry.rights.download import check_files_readable, may_download, run_only_owner
from registry.rights.grants import (
    EVERYONE,
    Grantee,
    create_grant,
    delete_grant,
    grant,
    grant_on,
    grantee_for,
    grantee_names,
    list_grants,
    revoke,
    revoke_on,
    revoked_detail,
)
from registry.rights.items import (
    DATASETS,
    PROTECTED,
    RESOURCES,
    GrantRow,
    Item,
    ItemType,
    Protected,
    RequestRow,
    describe,
    item_type,
)
from registry.rights.lineage import derivatives_of, record_lineage, sources_of
from registry.rights.lookup import dataset_for, find_dataset, find_resource, require, resource_for
from registry.rights.requests import decide, list_requests, request_access, request_target
from registry.rights.sql import not_bound_condition, visible_condition

__all__ = [
    "ALL_RIGHTS",
    "DATASETS",
    "EVERYONE",
    "OWNER_WHEN_BOUND",
    "PROTECTED",
    "RESOURCES",
    "Access",
    "GrantRow",
    "Grantee",
    "Item",
    "ItemType",
    "Protected",
    "RequestRow",
    "access",
    "access_many",
    "binds",
    "bound_message",
    "check_audience",
    "check_files_readable",
    "check_open_audience",
    "check_policy_change",
    "create_grant",
    "dataset_for",
    "decide",
    "delete_grant",
    "derivatives_of",
    "describe",
    "find_dataset",
    "find_resource",
    "grant",
    "grant_on",
    "grantee_for",
    "grantee_names",
    "grants_reaching",
    "implied_rights",
    "item_type",
    "list_grants",
    "list_requests",
    "may_download",
    "not_bound_condition",
    "record_lineage",
    "request_access",
    "request_target",
    "require",
    "resource_for",
    "revoke",
    "revoke_on",
    "revoked_detail",
    "rights",
    "rights_on_many",
    "run_only_owner",
    "sources_of",
    "sources_public",
    "visible_condition",
]
