"""The `{ref:ref}` path convertor: a resource addressed as `owner/name`, or (for one release) a bare `name`.

It matches one or two path segments, so `/resources/alice/model/versions/1` reads as ref `alice/model`.
Routes whose path ends in `{ref:ref}` are registered after the longer ones (see `api.app`): otherwise
`/resources/{ref}` would read `/resources/model/versions` as the resource `model/versions`. Resource names
may not be path words (`registry.schemas.RESERVED_NAMES`), so an old bare-name URL is never ambiguous.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class ResourceRef(Convertor[str]):
    regex = "[^/]+(?:/[^/]+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("ref", ResourceRef())
