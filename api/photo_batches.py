"""A batch of uploaded photos where a bad file is reported and skipped, and the good ones are kept.

`POST /datasets/{ref}/items` validates every photo as before (one at a time: the memory of one photo), but a
file that is not an image, is damaged, too large in bytes or in pixels no longer refuses the whole batch: it is
listed with the reason, in the validator's plain words, and the rest are stored. Only when every file is bad is
the request refused, with the same error as before (a batch of one bad file answers exactly as it used to).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.staging import StagedImage, read_limited
from commons.errors import CommonsError, InvalidImage, TooLarge
from registry import datasets as rows
from registry.dataset_schemas import ItemPublic

REJECTED_COUNT_HEADER = "Commons-Rejected-Count"


class RejectedFile(BaseModel):
    name: str = Field(description="The file's name as sent.")
    reason: str = Field(description="Why it was skipped, and what to do about it.")


class UploadReport(BaseModel):
    """The answer to an upload asked with `report=true`: what was added, and what was skipped and why."""

    items: list[ItemPublic]
    rejected: list[RejectedFile]


@dataclass
class StagedBatch:
    """The photos that passed validation, and the files that did not, in the order they were sent."""

    images: list[StagedImage] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    errors: list[CommonsError] = field(default_factory=list)

    def refuse_if_nothing_kept(self) -> None:
        """Every file was bad: the first file's error, as before, naming the others' reasons as well."""
        if self.images or not self.errors:
            return
        first = self.errors[0]
        if len(self.errors) == 1:
            raise first
        reasons = "; ".join(f"{entry.reason}" for entry in self.rejected)
        raise type(first)(
            f"none of the {len(self.errors)} files is a photo that can be added: {reasons}", field="files"
        )


def _name(upload: UploadFile) -> str:
    return (upload.filename or "upload").rsplit("/", 1)[-1][:255] or "upload"


async def stage_batch(files: list[UploadFile], *, limit: int, max_pixels: int) -> StagedBatch:
    """Validate every photo, one at a time (each read, decoded and dropped before the next is read); a bad one
    is set aside with its reason."""
    batch = StagedBatch()
    for upload in files:
        name = _name(upload)
        try:
            data = await read_limited(upload, limit=limit)
            image = await run_in_threadpool(rows.validate_image, data, name=name, max_pixels=max_pixels)
        except (InvalidImage, TooLarge) as error:
            batch.errors.append(error)
            batch.rejected.append(RejectedFile(name=name, reason=error.message))
            continue
        batch.images.append(StagedImage(upload=upload, name=name, size=len(data), sha256=image.sha256, info=image.info))
        del data, image
    return batch
