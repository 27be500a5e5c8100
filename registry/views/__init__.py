"""Public views: how the API shows a row (the `*Public` schemas of `registry.schemas`, `registry.dataset_schemas`
and `registry.groups`).

The rule, one way for every entity:

- one module per entity (`users`, `resources`, `versions`, `datasets`, `groups`, `grants`, `uploads`, `tasks`),
  each function named `<entity>_view` (`<entity>_views` for a batch built in a fixed number of queries);
- the schema validates the row itself (`model_config = ConfigDict(from_attributes=True)`): a field of the same
  name and meaning is read from the row, never copied by hand;
- the view adds only what the row does not hold as shown (`base.view(Schema, row, **computed)`): names
  instead of ids, counts, rights, digests, presigned URLs, UTC times.

Views read the database (and presign with the object store) but change nothing; routes return them as they
are. Lower modules of `registry` do not import this package (the inbox of `registry.access_requests`, a list
answer, excepted).
"""
