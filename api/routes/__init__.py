"""Route modules, one per resource of the REST contract."""
