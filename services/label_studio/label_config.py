"""What a Label Studio labeling config tells the backend: the image to read, and the control tags to answer with
(BrushLabels for SAM masks, Choices for a classifier) or to read prompts from (KeyPointLabels, RectangleLabels)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final

from commons.errors import InvalidInput

MAX_CONFIG_CHARS: Final = 100_000
MAX_LABELS: Final = 1000


@dataclass(frozen=True)
class Control:
    """A control tag: its `name`, the object tag it labels (`toName`) and its label or choice values."""

    name: str
    to_name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class LabelConfig:
    """The first Image tag (`name`, and the task data key its `value="$key"` reads) and the controls on it."""

    image_name: str
    image_key: str
    brush: Control | None
    choices: Control | None
    keypoints: Control | None
    rectangles: Control | None


def _parse(text: str) -> ET.Element:
    if len(text) > MAX_CONFIG_CHARS:
        raise InvalidInput(
            f"the labeling config has {len(text)} characters; at most {MAX_CONFIG_CHARS}", field="label_config"
        )
    if "<!" in text.replace("<!--", ""):
        raise InvalidInput("the labeling config may not hold a DOCTYPE or entities", field="label_config")
    try:
        return ET.fromstring(text)  # noqa: S314 - bounded, no DOCTYPE or entities (checked above)
    except ET.ParseError as error:
        raise InvalidInput(f"the labeling config is not XML: {error}", field="label_config") from error


def _control(root: ET.Element, tag: str, value_tag: str, image: str) -> Control | None:
    for element in root.iter(tag):
        if element.get("toName") == image and element.get("name"):
            values = tuple(child.get("value") or "" for child in element.iter(value_tag))[:MAX_LABELS]
            return Control(name=str(element.get("name")), to_name=image, values=tuple(v for v in values if v))
    return None


def read_label_config(text: str) -> LabelConfig:
    """The config's first `<Image name=… value="$key">` and its controls; InvalidInput without such an image."""
    root = _parse(text)
    image = next((e for e in root.iter("Image") if e.get("name") and (e.get("value") or "").startswith("$")), None)
    if image is None:
        raise InvalidInput(
            'the labeling config has no <Image name="…" value="$key"/>; the commons answers for images',
            field="label_config",
        )
    name = str(image.get("name"))
    return LabelConfig(
        image_name=name,
        image_key=str(image.get("value"))[1:],
        brush=_control(root, "BrushLabels", "Label", name),
        choices=_control(root, "Choices", "Choice", name),
        keypoints=_control(root, "KeyPointLabels", "Label", name),
        rectangles=_control(root, "RectangleLabels", "Label", name),
    )
