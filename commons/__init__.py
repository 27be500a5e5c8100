"""Shared foundations: settings, database, object store, errors, hashing, image I/O."""
