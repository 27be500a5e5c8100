"""Frozen inputs stay frozen, on SQLite and PostgreSQL: a photo a task may have frozen in its dataset snapshot
leaves the dataset when deleted but keeps its bytes until no task refers to it; others go at once."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col

from commons.db import get_engine
from commons.errors import Conflict, NotFound
from commons.store import ObjectStore, keys
from registry import dataset_classes as classes
from registry import datasets as rows
from registry.dataset_schemas import DatasetCreate
from registry.dataset_snapshots import store_snapshot, take_snapshot
from registry.dataset_zip import write_export
from registry.models import Dataset, DatasetItem, Task, User
from registry.users import create_user
from registry.views.datasets import dataset_view
from tests.registry.test_datasets import image


def _dataset(session: Session, name: str = "Pets") -> tuple[User, Dataset]:
    owner = create_user(session, username=f"owner-{name.lower()}", password="a long password")
    return owner, rows.create_dataset(session, owner=owner, spec=DatasetCreate(name=name, classes=["cat", "dog"]))


def _add(session: Session, store: ObjectStore, dataset: Dataset, *numbers: int, label: str | None) -> list[DatasetItem]:
    """The photos `image(n)` for each of `numbers`, added to `dataset` under `label`."""
    return rows.add_items(session, store=store, dataset=dataset, images=[image(n) for n in numbers], label=label)


def _only_one_left(session: Session, store: ObjectStore, dataset: Dataset, item: DatasetItem) -> None:
    """`item` is the dataset's one photo, its bytes stored, and nothing deleted is retained."""
    assert rows.retained(session, dataset) == (0, 0)
    assert store.exists(rows.item_key(item)) and rows.count_items(session, dataset) == 1


def _train_on(session: Session, store: ObjectStore, owner: User, dataset: Dataset) -> Task:
    """A finished task on the dataset, its snapshot stored as submit stores it."""
    snapshot = take_snapshot(session, dataset)
    task = Task(owner_id=owner.id, mode="train", dataset_id=dataset.id, dataset_digest=snapshot["digest"])
    task.status = "succeeded"
    session.add(task)
    session.flush()
    store_snapshot(store=store, task_id=task.id, snapshot=snapshot)
    return task


def _exported_names(session: Session, store: ObjectStore, dataset: Dataset) -> list[str]:
    buffer = io.BytesIO()
    write_export(session, store=store, dataset=dataset, target=buffer)
    with zipfile.ZipFile(buffer) as archive:
        return sorted(name for name in archive.namelist() if not name.endswith("/"))


def test_a_photo_no_task_froze_goes_with_its_object(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner, dataset = _dataset(session)
        before = _add(session, store, dataset, 0, label="cat")[0]
        _train_on(session, store, owner, dataset)
        after = _add(session, store, dataset, 1, label="dog")[0]
        session.commit()

        rows.delete_item(session, store=store, dataset=dataset, item_id=after.id)  # added after the task
        session.commit()
        assert session.get(DatasetItem, after.id) is None
        assert not store.exists(rows.item_key(after))
        _only_one_left(session, store, dataset, before)


def test_a_frozen_photo_leaves_the_dataset_but_keeps_its_bytes(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner, dataset = _dataset(session)
        kept = _add(session, store, dataset, 1, 2, label="cat")
        digest_without = rows.dataset_digest(session, dataset)
        frozen = _add(session, store, dataset, 0, label="dog")[0]
        task = _train_on(session, store, owner, dataset)
        session.commit()

        rows.delete_item(session, store=store, dataset=dataset, item_id=frozen.id)
        session.commit()
        row = session.get(DatasetItem, frozen.id)
        assert row is not None and row.deleted_at is not None, "tombstoned, not deleted"
        assert store.exists(rows.item_key(frozen)), "the task's snapshot still names these bytes"
        assert frozen.sha256 in {item["sha256"] for item in rows_of_snapshot(store, task)}

        listed = rows.list_items(session, dataset, label=None, labelled=None, limit=10, offset=0)
        assert [item.id for item in listed] == [item.id for item in kept]
        assert rows.list_items(session, dataset, label="dog", labelled=None, limit=10, offset=0) == []
        assert rows.count_items(session, dataset) == 2 and rows.count_items(session, dataset, labelled=True) == 2
        dog = classes.class_by_name(session, dataset, "dog")
        assert rows.count_items(session, dataset, class_id=dog.id) == 0
        assert rows.dataset_digest(session, dataset) == digest_without
        assert frozen.sha256 not in {item["sha256"] for item in take_snapshot(session, dataset)["items"]}
        assert _exported_names(session, store, dataset) == ["cat/photo-1.png", "cat/photo-2.png"]
        for refused in (
            lambda: rows.get_item(session, dataset, frozen.id),
            lambda: rows.set_label(session, dataset=dataset, item_id=frozen.id, label="cat"),
            lambda: rows.delete_item(session, store=store, dataset=dataset, item_id=frozen.id),
        ):
            with pytest.raises(NotFound):
                refused()

        public = dataset_view(session, dataset, owner)
        assert (public.item_count, public.labelled_count) == (2, 2)
        assert (public.retained_items, public.retained_bytes) == (1, frozen.size)
        assert rows.reclaim_unreferenced(session, store=store, dataset=dataset) == 0, "the task still refers to it"

        classes.delete_class(session, dataset=dataset, class_id=dog.id)  # a tombstone's class can go too
        session.commit()
        row = session.get(DatasetItem, frozen.id)
        assert row is not None and row.class_id is None and store.exists(rows.item_key(frozen))


def rows_of_snapshot(store: ObjectStore, task: Task) -> list[dict[str, object]]:
    from registry.dataset_snapshots import load_snapshot

    return list(load_snapshot(store=store, task_id=task.id)["items"])


def test_adding_a_deleted_photo_again_revives_it_with_the_new_label(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner, dataset = _dataset(session)
        frozen = _add(session, store, dataset, 0, label="cat")[0]
        _add(session, store, dataset, 1, label="cat")
        _train_on(session, store, owner, dataset)
        digest = rows.dataset_digest(session, dataset)
        rows.delete_item(session, store=store, dataset=dataset, item_id=frozen.id)
        session.commit()

        again = _add(session, store, dataset, 0, label="dog")[0]
        session.commit()
        assert again.id == frozen.id and again.deleted_at is None, "the same row, back in the dataset"
        assert classes.class_names(session, dataset)[again.class_id or ""] == "dog"
        assert rows.count_items(session, dataset) == 2 and rows.retained(session, dataset) == (0, 0)
        rows.set_label(session, dataset=dataset, item_id=again.id, label="cat")
        assert rows.dataset_digest(session, dataset) == digest

        rows.delete_item(session, store=store, dataset=dataset, item_id=again.id)  # still frozen by the task
        unlabelled = _add(session, store, dataset, 0, label=None)[0]
        session.commit()
        assert unlabelled.id == frozen.id and unlabelled.class_id is None, "added without a label: unlabelled"
        assert store.exists(rows.item_key(unlabelled))


def test_reclaim_frees_a_deleted_photo_once_no_task_refers_to_it(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner, dataset = _dataset(session)
        frozen, other = _add(session, store, dataset, 0, 1, label="cat")
        task = _train_on(session, store, owner, dataset)
        reproduction = Task(owner_id=owner.id, mode="train", dataset_id=dataset.id, reproduces_id=task.id)
        reproduction.status = "succeeded"
        session.add(reproduction)
        rows.delete_item(session, store=store, dataset=dataset, item_id=frozen.id)
        session.commit()
        assert rows.retained(session, dataset) == (1, frozen.size)

        session.exec(delete(Task).where(col(Task.id) == reproduction.id))
        session.commit()
        assert rows.reclaim_unreferenced(session, store=store, dataset=dataset) == 0, "the original still holds it"
        session.exec(delete(Task).where(col(Task.id) == task.id))
        session.commit()
        assert rows.reclaim_unreferenced(session, store=store, dataset=dataset) == 1
        session.commit()
        assert session.get(DatasetItem, frozen.id) is None and not store.exists(rows.item_key(frozen))
        _only_one_left(session, store, dataset, other)


def test_deleting_a_dataset_keeps_only_the_frozen_photos(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        owner, dataset = _dataset(session)
        frozen = _add(session, store, dataset, 0, 1, label="cat")
        _train_on(session, store, owner, dataset)
        later = _add(session, store, dataset, 2, label="dog")[0]
        rows.delete_item(session, store=store, dataset=dataset, item_id=frozen[0].id)  # tombstoned first
        session.commit()
        dataset_id = dataset.id

        rows.delete_dataset(session, store=store, dataset=dataset)
        session.commit()
        assert session.get(Dataset, dataset_id) is None
        assert all(store.exists(rows.item_key(item)) for item in frozen), "kept for the task's snapshot"
        assert not store.exists(rows.item_key(later))
        assert rows.reclaim_deleted_dataset(session, store=store, dataset_id=dataset_id) == 0

        session.exec(delete(Task).where(col(Task.dataset_id) == dataset_id))
        session.commit()
        assert rows.reclaim_deleted_dataset(session, store=store, dataset_id=dataset_id) == 2
        assert list(store.list_keys(keys.dataset_prefix(dataset_id))) == []

        _, still_here = _dataset(session, "Birds")
        with pytest.raises(Conflict, match="still exists"):
            rows.reclaim_deleted_dataset(session, store=store, dataset_id=still_here.id)


def test_deleting_a_dataset_no_task_used_removes_every_object(database_url: str, store: ObjectStore) -> None:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        _, dataset = _dataset(session)
        _add(session, store, dataset, 0, 1, label="cat")
        session.commit()
        rows.delete_dataset(session, store=store, dataset=dataset)
        session.commit()
        assert list(store.list_keys(keys.dataset_prefix(dataset.id))) == []


def test_a_delete_racing_a_submit_waits_for_it_and_keeps_the_photo(database_url: str, store: ObjectStore) -> None:
    """Submit reads the snapshot, then creates its task; a delete in between must not free the photo the
    snapshot lists. The dataset row is locked by the snapshot, so the delete waits and then sees the task."""
    engine = get_engine(database_url)
    with Session(engine, expire_on_commit=False) as setup:
        _owner, dataset = _dataset(setup, name="Race")
        photo = _add(setup, store, dataset, 0, label="cat")[0]
        setup.commit()
    deleted = threading.Event()
    errors: list[BaseException] = []

    def delete_photo() -> None:
        try:
            with Session(engine, expire_on_commit=False) as other:
                found = other.get(Dataset, dataset.id)
                assert found is not None
                rows.delete_item(other, store=store, dataset=found, item_id=photo.id)
                other.commit()
        except BaseException as error:  # reported by the test, below
            errors.append(error)
        finally:
            deleted.set()

    with Session(engine, expire_on_commit=False) as submit:
        owner = submit.get(User, dataset.owner_id)
        found = submit.get(Dataset, dataset.id)
        assert owner is not None and found is not None
        snapshot = take_snapshot(submit, found)
        assert [item["id"] for item in snapshot["items"]] == [photo.id]
        racer = threading.Thread(target=delete_photo)
        racer.start()
        assert not deleted.wait(1.0), "the delete went ahead while the snapshot's transaction was open"
        task = Task(owner_id=owner.id, mode="train", dataset_id=found.id, dataset_digest=snapshot["digest"])
        submit.add(task)
        submit.commit()
    racer.join(timeout=60)
    assert not errors, errors
    with Session(engine) as check:
        kept = check.get(DatasetItem, photo.id)
        assert kept is not None and kept.deleted_at is not None  # out of the dataset, tombstoned for the task
    assert store.exists(rows.item_key(photo))
