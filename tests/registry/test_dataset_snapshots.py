"""Which frozen dataset snapshots a train or evaluate task can use (no database: hand-built snapshots)."""

from __future__ import annotations

from typing import Any

import pytest

from commons.errors import InvalidInput
from registry.dataset_snapshots import SNAPSHOT_SCHEMA, check_for_mode, labelled_count


def _snapshot(classes: list[str], labels: list[str | None], *, name: str = "birds") -> dict[str, Any]:
    return {
        "schema": SNAPSHOT_SCHEMA,
        "id": "ds-1",
        "name": name,
        "digest": "sha256:" + "0" * 64,
        "classes": classes,
        "items": [
            {"id": f"i{i}", "sha256": f"{i:064x}", "extension": "png", "size": 1, "name": f"{i}.png", "label": label}
            for i, label in enumerate(labels)
        ],
    }


def _refusal(classes: list[str], labels: list[str | None], mode: str) -> str:
    """The message with which `check_for_mode` refuses a snapshot named 'cats', which it names, for `mode`."""
    with pytest.raises(InvalidInput) as caught:
        check_for_mode(_snapshot(classes, labels, name="cats"), mode=mode)
    assert caught.value.field == "dataset"
    assert "'cats'" in caught.value.message
    return caught.value.message


def test_labelled_count_skips_unlabelled_items() -> None:
    assert labelled_count(_snapshot(["a", "b"], [])) == 0
    assert labelled_count(_snapshot(["a", "b"], [None, None])) == 0
    assert labelled_count(_snapshot(["a", "b"], ["a", None, "b", "a"])) == 3


def test_train_accepts_labelled_images_of_two_classes() -> None:
    check_for_mode(_snapshot(["a", "b"], ["a", "b"]), mode="train")
    check_for_mode(_snapshot(["a", "b", "c"], ["a", None, "b", "b"]), mode="train")


@pytest.mark.parametrize("classes", [[], ["a"]], ids=["no-class", "one-class"])
def test_train_refuses_fewer_than_two_classes(classes: list[str]) -> None:
    labels: list[str | None] = ["a", "a"] if classes else []
    message = _refusal(classes, labels, "train")
    assert "at least 2" in message
    assert f"{len(classes)} class(es)" in message


def test_train_refuses_labels_all_in_one_class() -> None:
    message = _refusal(["a", "b"], ["a", "a", "a", None], "train")
    assert "3 labelled image(s) in 1 class(es)" in message
    assert "label some images first" in message


@pytest.mark.parametrize("labels", [[], [None, None], ["a", None]], ids=["empty", "unlabelled", "one-labelled"])
def test_train_refuses_fewer_than_two_labelled_images(labels: list[str | None]) -> None:
    assert "label some images first" in _refusal(["a", "b"], labels, "train")


@pytest.mark.parametrize("labels", [[], [None, None]], ids=["empty", "unlabelled"])
def test_evaluate_refuses_no_labelled_images(labels: list[str | None]) -> None:
    message = _refusal(["a", "b"], labels, "evaluate")
    assert "no labelled images" in message
    assert "compares predictions with labels" in message


def test_evaluate_accepts_one_labelled_image() -> None:
    check_for_mode(_snapshot(["a", "b"], ["a", None]), mode="evaluate")
    check_for_mode(_snapshot(["a"], ["a"]), mode="evaluate")


def test_other_modes_are_not_checked() -> None:
    check_for_mode(_snapshot([], []), mode="infer")
