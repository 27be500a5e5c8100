"""The parts of a crate that need no stack: names made safe for crate paths, ids that never collide, stored
values as property values, the size bound checked before anything is fetched, a crate's context and licence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from rocrate.model.contextentity import ContextEntity

from commons.errors import TooLarge
from registry.crates.packing import Part, check_total, write_zip
from registry.crates.run_objects import Placed, crate_path
from registry.crates.terms import EXTRA_TERMS, conform_to, fresh_id, new_crate, safe_part, scalar


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("coffee/masks.png", "outputs/coffee/masks.png"),
        ("../../etc/passwd", "outputs/etc/passwd"),
        ("my photo (1).png", "outputs/my_photo_1_.png"),
        ("..", "outputs/file"),
        ("a\\b.png", "outputs/a/b.png"),
        ("é/ü.png", "outputs/file/png"),
    ],
)
def test_crate_paths_stay_inside_and_are_plain(name: str, path: str) -> None:
    assert crate_path("outputs", name) == path


def test_safe_part_is_never_empty_nor_a_dot_name() -> None:
    assert safe_part("...", fallback="x") == "x" and safe_part(".hidden", fallback="x") == "hidden"
    assert len(safe_part("a" * 500, fallback="x")) == 120


def test_places_and_ids_do_not_collide() -> None:
    placed = Placed()
    assert [placed.place("outputs/a.png") for _ in range(3)] == ["outputs/a.png", "outputs/a-2.png", "outputs/a-3.png"]
    crate = new_crate(name="n", description="d", license_name="")
    crate.add(ContextEntity(crate, "#param-a", properties={"@type": "PropertyValue"}))
    assert fresh_id(crate, "#param-a") == "#param-a-2" and fresh_id(crate, "#param-b") == "#param-b"


def test_stored_values_become_plain_property_values() -> None:
    assert scalar(3) == 3 and scalar(0.5) == 0.5 and scalar(True) is True
    assert scalar({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'
    assert len(str(scalar("x" * 10_000))) == 2000


def test_the_size_bound_is_checked_before_fetching() -> None:
    parts = [Part(path="outputs/a", key="k", size=600), Part(path="outputs/b", key="k2", size=500)]
    check_total(parts, already=0, max_bytes=1100, what="the crate")
    with pytest.raises(TooLarge, match="1200 bytes, more than the 1100"):
        check_total(parts, already=100, max_bytes=1100, what="the crate")


def test_a_crate_declares_its_context_terms_profiles_and_licence(tmp_path: Path) -> None:
    crate = new_crate(name="A", description="B", license_name="CC-BY-4.0")
    conform_to(crate, {"https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate"})
    written = write_zip(crate, tmp_path / "c.zip")
    with zipfile.ZipFile(written) as archive:
        metadata = json.loads(archive.read("ro-crate-metadata.json"))
    assert metadata["@context"] == ["https://w3id.org/ro/crate/1.1/context", EXTRA_TERMS]
    entities = {e["@id"]: e for e in metadata["@graph"]}
    assert entities["#license"]["name"] == "CC-BY-4.0"
    assert {"@id": "https://w3id.org/ro/wfrun/process/0.5"} in entities["./"]["conformsTo"]
    unstated = new_crate(name="A", description="B", license_name="  ")
    assert unstated.get("#license")["name"] == "No licence stated"
