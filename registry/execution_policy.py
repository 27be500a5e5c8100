"""What a version's execution spec may ask of the platform: which container images, how many GPUs, CPU cores
and GB of memory per task.

Images come from the allow-list admins keep (`COMMONS_ALLOWED_IMAGES`; an entry ending in `*` allows every
image starting with the rest); no image means the deployment's own. Resources are capped per role: ordinary
users up to `COMMONS_MAX_GPUS` / `COMMONS_MAX_CPU` / `COMMONS_MAX_MEMORY_GB`, admins up to the `ADMIN_`
ones, which are also the deployment's ceiling.

Checked twice: at upload (`check_upload`, the uploader's role; 422 naming the field) and at dispatch
(`check_dispatch`, the deployment's ceiling): a version stored before the list or the caps changed (or a
trained copy inheriting its parent's spec) is refused there, and its task fails instead of starting.
"""

from __future__ import annotations

from dataclasses import dataclass

from commons.errors import ExecutionNotAllowed, InvalidInput
from commons.settings import Settings
from registry.schemas import ExecutionSpec


@dataclass(frozen=True)
class ExecutionCaps:
    role: str  # "user" | "admin"
    gpus: int
    cpu: float
    memory_gb: float
    setting_prefix: str  # COMMONS_ or COMMONS_ADMIN_, to name the setting in messages


def caps_for(settings: Settings, *, is_admin: bool) -> ExecutionCaps:
    """The caps of a role; the admin caps are the deployment's ceiling."""
    if is_admin:
        return ExecutionCaps(
            "admin", settings.admin_max_gpus, settings.admin_max_cpu, settings.admin_max_memory_gb, "COMMONS_ADMIN_"
        )
    return ExecutionCaps("user", settings.max_gpus, settings.max_cpu, settings.max_memory_gb, "COMMONS_")


def image_allowed(image: str, allowed: list[str]) -> bool:
    return any(image.startswith(entry[:-1]) if entry.endswith("*") else image == entry for entry in allowed)


def _allowed_text(settings: Settings) -> str:
    return ", ".join(settings.allowed_images) or "none (only the deployment's own image)"


def _number(value: float) -> str:
    return f"{value:g}"


def problems(spec: ExecutionSpec, *, settings: Settings, caps: ExecutionCaps) -> list[tuple[str, str]]:
    """(field, what is wrong) for every part of `spec` the policy refuses; empty when it is allowed."""
    found: list[tuple[str, str]] = []
    if spec.image is not None and not image_allowed(spec.image, settings.allowed_images):
        found.append(
            (
                "execution.image",
                f"image {spec.image!r} is not on this deployment's allow-list; allowed: {_allowed_text(settings)}",
            )
        )
    gpus = spec.gpu.count if spec.gpu is not None else 0
    if gpus > caps.gpus:
        found.append(
            (
                "execution.gpu.count",
                f"{gpus} GPUs per task is over the cap of {caps.gpus} for {caps.role}s ({caps.setting_prefix}MAX_GPUS)",
            )
        )
    if spec.cpu is not None and spec.cpu > caps.cpu:
        found.append(
            (
                "execution.cpu",
                f"{_number(spec.cpu)} CPU cores per task is over the cap of {_number(caps.cpu)} for {caps.role}s "
                f"({caps.setting_prefix}MAX_CPU)",
            )
        )
    if spec.memory_gb is not None and spec.memory_gb > caps.memory_gb:
        found.append(
            (
                "execution.memory_gb",
                f"{_number(spec.memory_gb)} GB of memory per task is over the cap of {_number(caps.memory_gb)} GB "
                f"for {caps.role}s ({caps.setting_prefix}MAX_MEMORY_GB)",
            )
        )
    return found


def check_upload(spec: ExecutionSpec, *, settings: Settings, is_admin: bool) -> None:
    """Refuse (InvalidInput on the first field at fault) an execution spec the uploader's role may not declare."""
    found = problems(spec, settings=settings, caps=caps_for(settings, is_admin=is_admin))
    if found:
        field = found[0][0]
        raise InvalidInput(
            f"{'; '.join(message for _, message in found)}. Name an allowed image (or none, for the deployment's "
            "own) and stay within the caps, or ask an administrator",
            field=field,
        )


def check_dispatch(spec: ExecutionSpec | None, *, settings: Settings) -> None:
    """Refuse (ExecutionNotAllowed) to start a task whose version asks for what the deployment does not allow
    now: an image off the allow-list or more than the ceiling (the admin caps)."""
    if spec is None:
        return
    found = problems(spec, settings=settings, caps=caps_for(settings, is_admin=True))
    if found:
        raise ExecutionNotAllowed(
            f"the task was not started: its version's execution spec is not allowed here any more "
            f"({'; '.join(message for _, message in found)}). Upload a version with an allowed spec and run that, "
            "or ask an administrator to allow it",
            field=found[0][0],
        )
