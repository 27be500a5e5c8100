"""Model kinds as pure compute: load weights, infer, train, evaluate, export.

Nothing here touches the database, the object store or HTTP; callers pass local file paths and plain
parameters, and errors are the domain errors of `commons.errors`.
"""
