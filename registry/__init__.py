"""System of record: users, resources, versions, grants, access requests, uploads and tasks."""
