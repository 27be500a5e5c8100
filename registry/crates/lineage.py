"""A version's lineage in its crate, as `isBasedOn`: the version it was made from (its parent) and every
resource or dataset it derives from (`registry.rights.sources_public`: one the reader may not read shows only
its type and owner, never its name)."""

from __future__ import annotations

from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate
from sqlmodel import Session

from registry.crates.terms import Links
from registry.models import Resource, ResourceVersion, User
from registry.rights import access, sources_public


def add_lineage(
    crate: ROCrate, session: Session, resource: Resource, row: ResourceVersion, *, reader: User | None, links: Links
) -> None:
    root = crate.root_dataset
    parent = session.get(ResourceVersion, row.parent_id) if row.parent_id else None
    if parent is not None:
        root.append_to("isBasedOn", _parent(crate, session, parent, reader=reader, links=links))
    for index, source in enumerate(sources_public(session, [resource], reader).get(resource.id, []), start=1):
        if source.readable and source.type == "resource":
            ident = links.resource(source.owner, source.name)
        elif source.readable:
            ident = links.dataset(source.id)
        else:
            ident = f"#source-{index}"
        name = f"{source.owner}/{source.name}" if source.readable else f"a private {source.type} of {source.owner}"
        properties = {"@type": "CreativeWork", "name": name, "additionalType": source.type}
        root.append_to("isBasedOn", crate.add(ContextEntity(crate, ident, properties=properties)))


def _parent(
    crate: ROCrate, session: Session, parent: ResourceVersion, *, reader: User | None, links: Links
) -> ContextEntity:
    source = session.get(Resource, parent.resource_id)
    owner = session.get(User, source.owner_id) if source is not None else None
    properties = {"@type": "CreativeWork", "identifier": parent.digest, "version": str(parent.number)}
    if source is None or owner is None or not access(session, source, reader).visible:
        return crate.add(
            ContextEntity(crate, "#parent", properties={**properties, "name": "The version it was made from"})
        )
    ident = links.version(owner.username, source.name, parent.number)
    name = f"{owner.username}/{source.name} v{parent.number}"
    return crate.add(ContextEntity(crate, ident, properties={**properties, "name": name}))
