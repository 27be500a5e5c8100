"""Resource versions as the API shows them: the parent and the creator by name, the execution spec parsed."""

from __future__ import annotations

from sqlmodel import Session

from registry.models import Resource, ResourceVersion, User
from registry.schemas import ExecutionSpec, VersionPublic
from registry.views.base import view


def version_view(session: Session, resource: Resource, row: ResourceVersion) -> VersionPublic:
    parent = session.get(ResourceVersion, row.parent_id) if row.parent_id else None
    parent_resource = session.get(Resource, parent.resource_id) if parent else None
    creator = session.get(User, row.created_by)
    return view(
        VersionPublic,
        row,
        resource=resource.name,
        version=row.number,
        parent=parent.number if parent else None,
        parent_resource=parent_resource.name if parent_resource else None,
        parent_digest=parent.digest if parent else None,
        execution=ExecutionSpec.model_validate(row.execution) if row.execution else None,
        created_by=creator.username if creator else "",
    )
