"""The service's hold on its store (mdm.store.service.StoreService) around an engine that is
replaced or rebuilt: a steward's operation is always decided by the engine in service,
and no write is decided on an engine that is about to be thrown away."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from api import Settings
from api.app import engine_factory
from mdm.store.service import StoreService


@pytest.fixture
def service(served_db: Path):
    found = StoreService(served_db, engine_factory(Settings(db=served_db)), apply_delay=5.0)
    found.start_engine()
    yield found
    found.close()


def _record(number: int) -> dict:
    return {"source": "svc", "record_id": f"S-{number}", "first_name": "Ines",
            "last_name": "Okonkwo", "email": f"ines.{number}@example.org"}  # fmt: skip


def test_a_steward_operation_waiting_for_a_swap_uses_the_new_engine(service) -> None:
    """A merge that waited while a full job put its engine in place must be decided by
    that engine: decided by the old one, it would be in the store but not in memory,
    and the next upsert would undo it (a retired id minted again)."""
    old = service.engine
    with service._lock:
        new = service._factory(service._con)
    seen = []
    with old.lock:  # as replace_with holds it while the copy takes the store's place
        worker = threading.Thread(target=service.steward, args=(lambda c, e: seen.append(e),))
        worker.start()
        time.sleep(0.3)
        assert not seen  # it waits for the swap
        service.engine = new
    worker.join(timeout=30)
    assert seen == [new]


def test_a_failed_steward_operation_rebuilds_before_any_write_is_decided(service) -> None:
    """After a steward's operation fails, the engine is built again from the store; a
    write that was waiting meanwhile is decided by the rebuilt engine, so the engine in
    service knows it (the tables are seconds behind the journal here)."""
    written = []

    def upsert() -> None:
        result, committed = service.upsert(_record(1), "tests")
        committed.result(timeout=30)
        written.append(result)

    def failing(con, engine):
        threading.Thread(target=upsert).start()
        time.sleep(0.3)  # the upsert now waits for the engine
        raise RuntimeError("simulated failure inside a steward's operation")

    before = service.engine
    with pytest.raises(RuntimeError):
        service.steward(failing)
    deadline = time.monotonic() + 30
    while not written and time.monotonic() < deadline:
        time.sleep(0.05)
    assert written, "the waiting upsert was never answered"
    assert service.engine is not before
    assert service.engine.table.slot_of("svc", "S-1") is not None


def test_a_write_decided_after_a_failed_commit_is_refused(service, monkeypatch) -> None:
    """Once a group commit has failed, the engine's memory is ahead of the store until
    it is rebuilt: a write decided on it in that window is refused, not journaled."""
    from mdm.errors import StoreError

    service.broken = "OSError"
    try:
        with pytest.raises(StoreError):
            service.upsert(_record(2), "tests")
        committed = service._submit(service.engine.upsert(_record(3), "tests")[1])
        with pytest.raises(StoreError):
            committed.result(timeout=5)
    finally:
        service.broken = None
    service.flush()
    assert service.journal.last == service._applied  # nothing was journaled


def test_jobs_give_way_only_while_callers_are_busy(service) -> None:
    """A job rests between records only while callers match or upsert (busy); with no
    calls in the last second it goes at full speed."""
    assert not service.busy()
    service.called()
    assert service.busy()
    assert not service.busy(within=0.0)


def _journaled(service) -> list[int]:
    from mdm.store.journal import journal_folder, read_journal

    return [seq for seq, _ in read_journal(journal_folder(service.path))]


def test_writes_after_a_full_job_swap_are_in_the_journal_on_disk(service, tmp_path) -> None:
    """After a full job's copy replaced the store, an acknowledged write is in a journal
    file in the folder (opening the new file clears the folder, so the journal must
    begin a new file: one appended to a cleared file is lost in a crash), and the new
    file says it holds every earlier entry (a crash must not replay them onto it)."""
    from mdm.store import open_store
    from mdm.store.journal import last_applied

    _, committed = service.upsert(_record(5), "tests")
    committed.result(timeout=30)
    copy = tmp_path / "copy.duckdb"
    service.copy_for(copy, "test job")
    _, committed = service.upsert(_record(6), "tests")  # while the job works
    committed.result(timeout=30)
    before = service.journal.last
    service.replace_with(copy, service.engine_for(copy), "tests")
    result, committed = service.upsert(_record(7), "tests")
    committed.result(timeout=30)
    assert service.journal.last in _journaled(service)
    service.close()
    con = open_store(service.path)  # as the next start would: replays what is missing
    try:
        assert last_applied(con) == before + 1
        stored = con.execute(
            "SELECT record_id FROM records WHERE source = 'svc' ORDER BY record_id"
        ).fetchall()
        assert stored == [("S-5",), ("S-6",), ("S-7",)]
    finally:
        con.close()


def test_writes_after_compaction_are_in_the_journal_on_disk(service) -> None:
    service.compact()
    _, committed = service.upsert(_record(8), "tests")
    committed.result(timeout=30)
    assert service.journal.last in _journaled(service)


def test_keys_made_during_a_full_job_survive_its_swap(service, tmp_path) -> None:
    """While a full job works on a copy, a steward's write is refused (the swap would
    lose it) but API keys can be made and revoked: they are carried over to the result."""
    from mdm.errors import ConflictError
    from mdm.store.keys import create_key, list_keys, revoke_key

    with service.write() as con:
        kept, _ = create_key(con, "before", "etl", "tests")
    copy = tmp_path / "copy.duckdb"
    service.copy_for(copy, "test job")
    with pytest.raises(ConflictError, match="test job"), service.write() as con:
        pass
    with service.write(carried=True) as con:
        made, _ = create_key(con, "during", "operational", "tests")
        revoke_key(con, kept.key_id, "tests")
    service.replace_with(copy, service.engine_for(copy), "tests")
    with service.read() as con:
        found = {k.name: k.revoked_at is not None for k in list_keys(con, include_revoked=True)}
    assert found["during"] is False
    assert found["before"] is True
