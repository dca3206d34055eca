"""For admins: API keys (list, make, revoke) and backups of the store."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from api.deps import CallerDep, StoreDep, acting
from api.schemas.common import Actor
from api.schemas.keys import (
    BackupCreate,
    BackupPublic,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyPublic,
)
from mdm.backup import back_up_service
from mdm.realtime.engine import Engine
from mdm.store.keys import create_key, list_keys, revoke_key
from mdm.store.service import StoreService

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def _reload(request: Request, store: StoreService[Engine]) -> None:
    with store.read() as con:
        request.app.state.keys.reload(con)


@router.get("", response_model=KeyList)
def get_keys(
    request: Request,
    store: StoreDep,
    revoked: Annotated[bool, Query(description="Include revoked keys.")] = False,
) -> KeyList:
    """Every key (never its secret), newest first, with when each was last used."""
    ring = request.app.state.keys
    with store.read() as con:
        listed = list_keys(con, include_revoked=revoked)
    keys = [KeyPublic(**asdict(ring.with_last_use(k))) for k in listed]
    return KeyList(keys=keys, count=len(keys))


@router.post("", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def post_key(request: Request, body: KeyCreate, store: StoreDep, caller: CallerDep) -> KeyCreated:
    """Make a key. Its ``token`` is in this answer only: hand it over now."""
    with store.write(carried=True) as con:  # also during a full job
        key, token = create_key(
            con, body.name, body.role, acting(caller, body.by), body.expiry_utc()
        )
    _reload(request, store)
    return KeyCreated(**asdict(key), token=token)


@router.delete("/{key_id}", response_model=KeyPublic)
def delete_key(
    request: Request,
    store: StoreDep,
    caller: CallerDep,
    key_id: Annotated[str, Path(min_length=1, max_length=40)],
    by: Annotated[Actor | None, Query(description="A note: who revokes it.")] = None,
) -> KeyPublic:
    """Revoke a key: refused from the next call on. The revocation names the key that
    made this call, and ``by`` as a note."""
    with store.write(carried=True) as con:  # also during a full job
        key = revoke_key(con, key_id, acting(caller, by))
    _reload(request, store)
    return KeyPublic(**asdict(key))


backups = APIRouter(prefix="/v1/backups", tags=["backups"])


@backups.post("", response_model=BackupPublic, status_code=status.HTTP_201_CREATED)
def post_backup(request: Request, body: BackupCreate, store: StoreDep) -> BackupPublic:
    """Back up the store while the service runs: a consistent copy, taken between
    writes, in the backup folder (``MDM_BACKUP_FOLDER``). Restore it with
    ``mdm restore FILE --db STORE`` while the service is stopped."""
    settings = request.app.state.settings
    folder = settings.backup_folder or store.path.with_name(store.path.name + ".backups")
    made = back_up_service(store, folder / f"{body.name}.duckdb")
    return BackupPublic(path=str(made.path), bytes=made.bytes, sha256=made.sha256,
                        fingerprint=made.fingerprint)  # fmt: skip
