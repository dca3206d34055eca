"""A command's hold on the store (mdm.store.service.command_service): the CLI writes
through the same service as the HTTP one, one transaction per command."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.errors import StoreError
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store.service import command_service
from mdm.store.users import add_user


@pytest.fixture
def db(reconciled_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, copy)
    return copy


def _count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


def test_a_missing_store_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mdm.duckdb"
    with (
        pytest.raises(StoreError, match="no store at .*run 'mdm reconcile"),
        command_service(missing),
    ):
        pass
    assert not missing.exists()


def test_a_write_commits_when_the_command_ends(db: Path) -> None:
    with command_service(db) as service, service.write() as con:
        add_user(con, "ada", "correct horse battery", "steward")
    assert _count(db, "SELECT count(*) FROM users WHERE username = 'ada'") == 1


def test_a_failed_write_leaves_nothing_and_releases_the_file(db: Path) -> None:
    with pytest.raises(RuntimeError), command_service(db) as service, service.write() as con:
        add_user(con, "ada", "correct horse battery", "steward")
        raise RuntimeError("the command failed half way")
    assert _count(db, "SELECT count(*) FROM users") == 0  # and the file opens again


def test_a_steward_write_is_decided_by_the_commands_engine_and_rolled_back_whole(
    db: Path,
) -> None:
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    golden_before = _count(db, "SELECT count(*) FROM golden WHERE status = 'active'")
    two = duckdb.connect(str(db), read_only=True)
    first, second = (
        row[0]
        for row in two.execute(
            "SELECT golden_id FROM golden WHERE status = 'active' ORDER BY golden_id LIMIT 2"
        ).fetchall()
    )
    two.close()

    def engine(con: duckdb.DuckDBPyConnection) -> Engine:
        return Engine(con, bundle.survivorship, bundle.rules_dir)

    def merge_then_fail(con: duckdb.DuckDBPyConnection, engine: Engine) -> None:
        from mdm.lifecycle import merge

        merge(con, engine, first, second, "test", "same person", confirmed=True)
        assert (
            con.execute("SELECT count(*) FROM golden WHERE status = 'active'").fetchall()[0][0]
            == golden_before - 1
        )
        raise RuntimeError("after the merge was written")

    with (
        pytest.raises(RuntimeError, match="after the merge"),
        command_service(db, engine) as service,
    ):
        service.steward(merge_then_fail)
    assert _count(db, "SELECT count(*) FROM golden WHERE status = 'active'") == golden_before
