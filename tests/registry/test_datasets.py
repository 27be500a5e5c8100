"""Datasets on SQLite and PostgreSQL: classes, items stored once by content, relabelling, digest, permissions, zips."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from sqlmodel import Session

from commons.db import get_engine
from commons.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from commons.store import ObjectStore, keys
from registry import dataset_classes as classes
from registry import datasets as rows
from registry import rights as perms
from registry.dataset_schemas import DatasetCreate, DatasetUpdate
from registry.dataset_zip import ZipLimits, import_archive, plan_import, write_export
from registry.users import create_user
from registry.views.datasets import dataset_view
from tests.factories import zip_bytes

MAX_PIXELS = 1_000_000
LIMITS = ZipLimits(max_bytes=50 * 1024 * 1024, max_entries=100, max_ratio=100, max_entry_bytes=1024 * 1024)


@lru_cache
def _sources() -> list[np.ndarray]:
    return [np.asarray(image()) for image in (skdata.astronaut, skdata.coffee, skdata.chelsea, skdata.rocket)]


def photo(index: int, size: int = 32) -> bytes:
    """A distinct PNG crop of a real photo from skimage.data."""
    source = _sources()[index % 4]
    top = (index * 37) % (source.shape[0] - size)
    left = (index * 53) % (source.shape[1] - size)
    buffer = io.BytesIO()
    Image.fromarray(source[top : top + size, left : left + size]).save(buffer, format="PNG")
    return buffer.getvalue()


def image(index: int) -> rows.ItemImage:
    return rows.validate_image(photo(index), name=f"photo-{index}.png", max_pixels=MAX_PIXELS)


def test_classes_items_relabel_and_digest(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        dataset = rows.create_dataset(session, owner=owner, spec=DatasetCreate(name="Pets", classes=["cat", "dog"]))
        assert dataset.visibility == "private"
        assert [c.name for c in classes.list_classes(session, dataset)] == ["cat", "dog"]
        with pytest.raises(Conflict):
            classes.create_class(session, dataset=dataset, name="cat")
        empty = rows.dataset_digest(session, dataset)

        first = rows.add_items(session, store=store, dataset=dataset, images=[image(0), image(1)], label="cat")
        assert store.exists(keys.dataset_item(dataset.id, first[0].sha256, "png"))
        digest = rows.dataset_digest(session, dataset)
        assert digest.startswith("sha256:") and digest != empty
        again = rows.add_items(session, store=store, dataset=dataset, images=[image(0)], label=None)
        assert again[0].id == first[0].id and again[0].class_id == first[0].class_id, "stored once, label kept"
        assert rows.count_items(session, dataset) == 2
        assert rows.dataset_digest(session, dataset) == digest, "nothing changed"

        relabelled = rows.add_items(session, store=store, dataset=dataset, images=[image(0)], label="dog")
        assert relabelled[0].id == first[0].id
        assert rows.dataset_digest(session, dataset) != digest
        rows.set_label(session, dataset=dataset, item_id=first[0].id, label="cat")
        assert rows.dataset_digest(session, dataset) == digest, "the digest depends on content and labels only"
        rows.set_label(session, dataset=dataset, item_id=first[1].id, label=None)
        assert rows.count_items(session, dataset, labelled=False) == 1
        with pytest.raises(InvalidInput, match="no class 'bird'"):
            rows.set_label(session, dataset=dataset, item_id=first[1].id, label="bird")

        cat = classes.class_by_name(session, dataset, "cat")
        classes.rename_class(session, dataset=dataset, class_id=cat.id, name="kitten")
        with pytest.raises(Conflict):
            classes.rename_class(session, dataset=dataset, class_id=cat.id, name="dog")
        assert [i.class_id for i in rows.list_items(session, dataset, label="kitten", labelled=None, limit=9, offset=0)]
        classes.delete_class(session, dataset=dataset, class_id=cat.id)
        assert rows.count_items(session, dataset, labelled=True) == 0
        assert [c.name for c in classes.list_classes(session, dataset)] == ["dog"]

        rows.delete_item(session, store=store, dataset=dataset, item_id=first[1].id)
        assert not store.exists(keys.dataset_item(dataset.id, first[1].sha256, "png"))
        with pytest.raises(NotFound):
            rows.get_item(session, dataset, first[1].id)
        rows.delete_dataset(session, store=store, dataset=dataset)
        assert list(store.list_keys(keys.dataset_prefix(dataset.id))) == []
        session.commit()


def test_visibility_and_grants(database_url: str) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner, reader, other = (create_user(session, username=n, password="a long password") for n in "abc")
        private = rows.create_dataset(session, owner=owner, spec=DatasetCreate(name="mine"))
        public = rows.create_dataset(session, owner=owner, spec=DatasetCreate(name="ours", visibility="public"))
        with pytest.raises(NotFound):
            perms.dataset_for(session, dataset_id=private.id, user=reader)
        with pytest.raises(NotFound):
            perms.dataset_for(session, dataset_id=private.id, user=None)
        assert perms.dataset_for(session, dataset_id=public.id, user=None).id == public.id
        with pytest.raises(Forbidden):
            perms.dataset_for(session, dataset_id=public.id, user=reader, need="modify")
        listed = {d.id for d in rows.list_visible_datasets(session, reader, limit=50, offset=0)}
        assert public.id in listed and private.id not in listed

        perms.grant(session, dataset=private, username=reader.username, permission="use", actor=owner)
        assert perms.rights(session, private, reader) == {"use"}
        with pytest.raises(Forbidden):
            perms.dataset_for(session, dataset_id=private.id, user=reader, need="modify")
        modify = perms.grant(session, dataset=private, username=reader.username, permission="modify", actor=owner)
        assert perms.dataset_for(session, dataset_id=private.id, user=reader, need="modify").id == private.id
        assert perms.rights(session, private, other) == frozenset()
        perms.grant(session, dataset=private, username="*", permission="use", actor=owner)
        assert perms.rights(session, private, other) == {"use"}
        assert len(perms.list_grants(session, private)) == 3
        perms.revoke(session, dataset=private, grant_id=modify.id)
        assert perms.rights(session, private, reader) == {"use"}
        with pytest.raises(InvalidInput):
            perms.grant(session, dataset=private, username="nobody", permission="use", actor=owner)
        rows.update_dataset(
            session, dataset=private, changes=DatasetUpdate(visibility="public", name="renamed"), actor=owner
        )
        assert dataset_view(session, private, owner).permissions == ["modify", "own", "use"]


def test_zip_round_trip(database_url: str, store: ObjectStore) -> None:
    pets = {"cat/a.png": photo(0), "cat/b.png": photo(1), "dog/c.png": photo(2), "d.png": photo(3), ".DS_Store": b"x"}
    source = io.BytesIO(zip_bytes(pets))
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner = create_user(session, username="owner", password="a long password")
        dataset = rows.create_dataset(session, owner=owner, spec=DatasetCreate(name="zip"))
        outcome = import_archive(
            session, store=store, dataset=dataset, source=source, limits=LIMITS, max_pixels=MAX_PIXELS
        )
        assert (outcome.added, outcome.existing, outcome.classes_created) == (4, 0, ["cat", "dog"])
        exported = io.BytesIO()
        write_export(session, store=store, dataset=dataset, target=exported)
        with zipfile.ZipFile(exported) as archive:
            names = sorted(n for n in archive.namelist() if not n.endswith("/"))
            assert names == ["_unlabelled/d.png", "cat/a.png", "cat/b.png", "dog/c.png"]
            assert archive.read("cat/a.png") == photo(0)
        again = rows.create_dataset(session, owner=owner, spec=DatasetCreate(name="copy"))
        exported.seek(0)
        import_archive(session, store=store, dataset=again, source=exported, limits=LIMITS, max_pixels=MAX_PIXELS)
        first, second = rows.dataset_digest(session, dataset), rows.dataset_digest(session, again)
        assert first == second


@pytest.mark.parametrize(
    ("entries", "error", "message"),
    [
        ({"../evil.png": photo(0)}, InvalidInput, "unsafe path"),
        ({"/abs.png": photo(0)}, InvalidInput, "unsafe path"),
        ({"cat\\x.png": photo(0)}, InvalidInput, "unsafe path"),
        ({"C:/x.png": photo(0)}, InvalidInput, "unsafe path"),
        ({"a/b/c.png": photo(0)}, InvalidInput, "nested deeper"),
        ({"cat/notes.txt": b"hello"}, InvalidInput, "cat/notes.txt"),
        ({"cat/empty.png": b""}, InvalidInput, "empty"),
        ({"cat/a.png": photo(0), "dog/a.png": photo(0)}, InvalidInput, "different labels"),
        ({f"{i}.png": b"" for i in range(101)}, TooLarge, "entries"),
        ({"big.png": b"\0" * 2 * 1024 * 1024}, InvalidInput, "zip bomb"),
    ],
)
def test_bad_zips_are_refused(entries: dict[str, bytes], error: type[Exception], message: str) -> None:
    with zipfile.ZipFile(io.BytesIO(zip_bytes(entries))) as archive, pytest.raises(error, match=message):
        plan_import(archive, limits=LIMITS, max_pixels=MAX_PIXELS)


def test_sizes_are_counted_not_trusted() -> None:
    """An entry whose headers claim fewer bytes than it holds is refused while inflating."""
    payload = photo(0) + b"\0" * 4096
    source = zip_bytes({"cat/a.png": payload})
    lied = source.replace(len(payload).to_bytes(4, "little"), (100).to_bytes(4, "little"))
    with zipfile.ZipFile(io.BytesIO(lied)) as archive, pytest.raises(InvalidInput, match=r"corrupt|truncated"):
        plan_import(archive, limits=LIMITS, max_pixels=MAX_PIXELS)
