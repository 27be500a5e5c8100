"""The download policy: a resource marked `download: false` is run-only — its files, and the files of anything
made from it, are presigned to its owner (and admins) alone."""

from __future__ import annotations

from sqlmodel import Session

from commons.errors import Forbidden
from registry.models import Resource, User
from registry.rights.decision import access
from registry.rights.items import describe, key
from registry.rights.lineage import sources_of


def _chain(session: Session, resource: Resource) -> list[Resource]:
    """The resource and every resource it was made from."""
    return [r for r in (resource, *sources_of(session, [key(resource)])[key(resource)]) if isinstance(r, Resource)]


def may_download(session: Session, resource: Resource, user: User | None) -> bool:
    """Whether the caller may have the resource's files (or task outputs carrying them) presigned: they may
    read it, and neither it nor anything it was made from is run-only for them."""
    if not access(session, resource, user).visible:
        return False
    if user is not None and user.is_admin:
        return True
    return all(r.download or (user is not None and r.owner_id == user.id) for r in _chain(session, resource))


def check_files_readable(session: Session, resource: Resource, user: User | None) -> None:
    """Forbidden when the caller sees the resource only as the maker of a bound derivative (`own` without
    `use`): its files carry the bytes of a source they can no longer read."""
    found = access(session, resource, user)
    if found.blocked_by:
        source = found.blocked_by[0]
        raise Forbidden(
            f"{describe(resource)} is made from {describe(source)}, which you cannot read, so its files are not "
            "yours to download; ask the source's owner for access (nothing was deleted)"
        )


def run_only_owner(session: Session, resource: Resource, user: User | None) -> Resource | None:
    """The run-only resource (this one or a source) that keeps the caller from its files, or None."""
    for r in _chain(session, resource):
        if not r.download and not (user is not None and (r.owner_id == user.id or user.is_admin)):
            return r
    return None
