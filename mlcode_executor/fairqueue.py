"""Job slots shared fairly between users: at most ``slots`` jobs run at once, at most
``per_user`` of them for one user, and free slots go round-robin to the users who wait, so one
user's slow jobs never hold another's back. Requests that name no user (``""``: callers that
predate the header) share one round-robin turn, capped by ``slots`` only."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque


class QueueTimeout(RuntimeError):
    pass


class FairQueue:
    def __init__(self, slots: int, per_user: int) -> None:
        self.slots = max(1, slots)
        self.per_user = max(1, per_user)
        self._cond = threading.Condition()
        self._running: Counter[str] = Counter()
        self._waiting: dict[str, deque[object]] = {}
        self._order: deque[str] = deque()  # users with waiting tickets, next turn first

    def _next(self) -> object | None:
        if sum(self._running.values()) >= self.slots:
            return None
        for user in self._order:
            if self._running[user] < (self.per_user if user else self.slots):
                return self._waiting[user][0]
        return None

    def acquire(self, user: str, timeout: float) -> None:
        """Wait for a slot for ``user``; QueueTimeout after ``timeout`` seconds."""
        ticket = object()
        deadline = time.monotonic() + timeout
        with self._cond:
            if user not in self._waiting:
                self._waiting[user] = deque()
                self._order.append(user)
            self._waiting[user].append(ticket)
            while self._next() is not ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._forget(user, ticket)
                    self._cond.notify_all()
                    raise QueueTimeout(f"no free slot within {timeout:g} s")
                self._cond.wait(remaining)
            self._forget(user, ticket)
            if user in self._waiting:  # more of this user's jobs wait: they go to the back
                self._order.remove(user)
                self._order.append(user)
            self._running[user] += 1
            self._cond.notify_all()

    def _forget(self, user: str, ticket: object) -> None:
        queue = self._waiting[user]
        queue.remove(ticket)
        if not queue:
            del self._waiting[user]
            self._order.remove(user)

    def release(self, user: str) -> None:
        with self._cond:
            self._running[user] -= 1
            if self._running[user] <= 0:
                del self._running[user]
            self._cond.notify_all()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "running": sum(self._running.values()),
                "waiting": sum(len(q) for q in self._waiting.values()),
                "users_running": len(self._running),
            }
