"""Files beside an encrypted store, sealed with its key: the journal's entries and
the results jobs keep.

DuckDB encrypts the store file itself (``MDM_ENCRYPTION_KEY``). What mdm writes beside
it that holds customer values must not undo that: a journal entry is sealed with
AES-256-GCM (the ``cryptography`` package) under a key derived from the store's key
by HKDF-SHA256, so the journal on disk says nothing without the key, and a changed
byte is found (the entry is refused, not misread). Without a key set, bytes are
written as they are, as the store is.

A sealed entry starts with :data:`MAGIC`, then a 12-byte random nonce, then the
ciphertext and its tag; anything else is an unsealed entry (a journal written before
the store was encrypted, or without a key), read as it is.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mdm.errors import StoreError

if TYPE_CHECKING:
    import pandas as pd

#: The environment variable holding the key of an encrypted store (DuckDB's AES-GCM
#: database encryption); set it for every process that opens the store.
ENCRYPTION_KEY_VARIABLE = "MDM_ENCRYPTION_KEY"

MAGIC = b"MDMSEAL1"
_NONCE = 12


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mdm journal v1")
    return AESGCM(key.derive(secret.encode()))


def seal(data: bytes) -> bytes:
    """``data`` sealed with the store's key, or as it is when no key is set."""
    secret = os.environ.get(ENCRYPTION_KEY_VARIABLE)
    if not secret:
        return data
    nonce = os.urandom(_NONCE)
    return MAGIC + nonce + _cipher(secret).encrypt(nonce, data, MAGIC)


def unseal(data: bytes) -> bytes:
    """The bytes :func:`seal` was given. Raises :class:`StoreError` for a sealed entry
    without the key, or with another key, or changed since."""
    if not data.startswith(MAGIC):
        return data
    secret = os.environ.get(ENCRYPTION_KEY_VARIABLE)
    if not secret:
        raise StoreError(
            f"the store's journal is encrypted: set {ENCRYPTION_KEY_VARIABLE} to the "
            "store's key to open it"
        )
    nonce = data[len(MAGIC) : len(MAGIC) + _NONCE]
    try:
        return _cipher(secret).decrypt(nonce, data[len(MAGIC) + _NONCE :], MAGIC)
    except InvalidTag:
        raise StoreError(
            f"a journal entry cannot be read with this {ENCRYPTION_KEY_VARIABLE}: another "
            "key, or the file was changed"
        ) from None


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet to ``path``, sealed when the store's key is set (a
    job's results beside an encrypted store hold customer values)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    path.write_bytes(seal(buffer.getvalue()))


def read_frame(path: Path) -> pd.DataFrame:
    """A frame :func:`write_frame` wrote (sealed or not)."""
    import pandas as pd  # here: opening a store does not need pandas

    return pd.read_parquet(io.BytesIO(unseal(path.read_bytes())))
