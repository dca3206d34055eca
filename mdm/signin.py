"""Who is signed in, and the defence of the sign-in form.

A session is a random id the server keeps, not a signed statement the browser keeps:
signing out forgets the id, so a copy of the cookie taken before is worth nothing, and
a user's sessions can all be ended at once (removed, password changed). Sessions live
in the serving process: a restart signs everyone out.

Wrong passwords are counted per user name and per client address over a window; past
the limit, the name (or the address) is locked for a while, even against the right
password, and each failure and each lock is logged on ``mdm.security``. Framework-free:
the steward pages hold one :class:`Sessions` and one :class:`SignInGuard`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("mdm.security")

#: A session ends this long after sign-in, used or not.
SESSION_SECONDS = 8 * 3600


@dataclass
class _Session:
    username: str
    expires: float


class Sessions:
    """Server-side sessions: id -> user, until sign-out, expiry or revocation."""

    def __init__(
        self, lifetime: float = SESSION_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.lifetime = lifetime
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def start(self, username: str) -> str:
        """A new session for ``username``: its id (unguessable, 256 bits)."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._sessions[session_id] = _Session(username, self._clock() + self.lifetime)
        return session_id

    def user(self, session_id: str | None) -> str | None:
        """The user of a live session; None for an unknown, ended or expired one."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires <= self._clock():
                del self._sessions[session_id]
                return None
            return session.username

    def end(self, session_id: str | None) -> None:
        """Sign out: the id opens nothing from now on."""
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def end_all(self, username: str) -> int:
        """End every session of ``username`` (removed, password changed); how many."""
        with self._lock:
            ended = [sid for sid, s in self._sessions.items() if s.username == username]
            for session_id in ended:
                del self._sessions[session_id]
        return len(ended)

    def __len__(self) -> int:
        with self._lock:
            self._forget_expired()
            return len(self._sessions)

    def _forget_expired(self) -> None:
        now = self._clock()
        for session_id in [sid for sid, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[session_id]


class SignInGuard:
    """Counts failed sign-ins per user name and per address; locks past a limit.

    ``max_failures`` wrong passwords for one name within ``window`` seconds lock that
    name for ``lockout`` seconds; ``max_address_failures`` from one address (any names)
    lock the address. A successful sign-in clears the name's count.
    """

    def __init__(
        self,
        *,
        max_failures: int = 20,
        max_address_failures: int = 100,
        window: float = 15 * 60,
        lockout: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.window = window
        self.lockout = lockout
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked_for(self, username: str, address: str) -> float:
        """Seconds until ``username`` from ``address`` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            until = max(self._locked.get(_user(username), 0), self._locked.get(_addr(address), 0))
        return max(0.0, until - now)

    def failed(self, username: str, address: str) -> None:
        """Count a wrong password; lock the name or the address past its limit."""
        log.warning("failed sign-in for user %r from %s", username, address)
        for key, limit in (
            (_user(username), self.max_failures),
            (_addr(address), self.max_address_failures),
        ):
            if self._count(key) >= limit:
                with self._lock:
                    self._locked[key] = self._clock() + self.lockout
                    self._failures.pop(key, None)
                log.warning(
                    "sign-in locked for %s for %d s after %d failures in %d s",
                    key, self.lockout, limit, self.window,
                )  # fmt: skip

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(_user(username), None)

    def _count(self, key: str) -> int:
        now = self._clock()
        with self._lock:
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while times and times[0] <= now - self.window:
                times.popleft()
            return len(times)


def _user(username: str) -> str:
    return f"user {(username or '').strip()!r}"


def _addr(address: str) -> str:
    return f"address {address}"
