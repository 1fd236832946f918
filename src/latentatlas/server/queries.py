"""Each request's work on its own database connections, off the event loop, stopped when it runs too long.

::

    request ──> Queries.run(request, work) ──> a worker thread: work(atlas over new cursors)
                      │                                 ^
                      │ the client goes away            │ cursor.interrupt()
                      v                                 │
                   watchdog (every 50 ms): overdue, abandoned, or the server stopping

A DuckDB connection runs one query at a time and ``interrupt()`` stops the
query running on it, so each request gets its own cursor of the atlas's
database and nothing else waits for it. The SQL a client writes (``where``
predicates) runs in a second DuckDB database that attached the atlas's
file read-only: its memory limit (``--query-memory``) bounds what such a
query can take, and a query that exhausts it makes only the predicates
fail, never the server's own reads of the atlas. Both databases run each
query on its request's thread alone (a slow one holds one core, not all),
never spill to disk, have file access off and their settings locked; and requests with a
predicate run on at most half the cores' worth of worker threads, the
others waiting their turn (their timeout runs meanwhile), so however many
clients send predicates, the rest of the machine serves the other requests.
Heavy work (a forecast: numpy and pySTEPS on every core it is given) runs
the same way on a limiter of its own, at most half the cores' worth at once.
A request whose time is up (the
query timeout), whose client has gone, or that is still running when the
server stops is interrupted; the watchdog repeats the interrupt while the
request runs, so a query started after the first one is stopped too. The
request then answers with the reason (408 for the timeout, 503 when
stopping), even if its work finished in the meantime.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import anyio
import duckdb
from starlette.requests import Request

from ..atlas import Atlas
from ..errors import LatentAtlasError, first_line
from ..store.database import DB_FILE, Store

__all__ = ["Queries", "RequestRefused", "QueryTimeout", "ServerStopping", "ServerBusy"]

T = TypeVar("T")
_TICK_S = 0.05
_ATTACHED = "atlas"  # the atlas's name in the predicates' database


class RequestRefused(LatentAtlasError):
    """A request stopped or refused by one of the server's limits; ``status`` is its HTTP status."""

    status = 503


class QueryTimeout(RequestRefused):
    """The request ran past the query timeout."""

    status = 408


class ServerStopping(RequestRefused):
    """The server is shutting down."""


class ServerBusy(RequestRefused):
    """The memory for clients' predicates is all in use by other queries just now."""


class ClientGone(RequestRefused):
    """The client closed the connection before the answer (nobody reads this one)."""


@dataclass(eq=False)
class _Job:
    """One request: its connection while it works, its deadline and, once it must stop, why."""

    deadline: float
    atlas: Atlas | None = None
    reason: RequestRefused | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self, reason: RequestRefused) -> None:
        """Interrupt the running queries (again); the first reason given is kept."""
        with self.lock:
            if self.reason is None:
                self.reason = reason
            if self.atlas is not None:
                self.atlas.store.con.interrupt()
                if self.atlas.store.predicates is not None:
                    self.atlas.store.predicates.con.interrupt()

    def work(self, opened: Atlas, sandbox: duckdb.DuckDBPyConnection | None,
             work: Callable[[Atlas], T]) -> tuple[T | None, Exception | None]:
        """``work`` on a cursor of ``opened``, its predicates on one of ``sandbox`` (if given), closed after.

        Returns its result or its error (returned, so that the error leaves
        the task group unwrapped).
        """
        try:
            with self.lock:
                if self.reason is not None:
                    return None, None
                self.atlas = opened.cursor()
                if sandbox is not None:
                    self.atlas.store.predicates = _predicates(opened.store, sandbox)
            return work(self.atlas), None
        except Exception as error:  # re-raised by Queries.run in the request's task
            return None, error
        finally:
            with self.lock:
                if self.atlas is not None:
                    if self.atlas.store.predicates is not None:
                        self.atlas.store.predicates.close()
                    self.atlas.close()
                    self.atlas = None


class Queries:
    """Runs requests' work on cursors of ``atlas`` in worker threads, each stopped after ``timeout`` seconds.

    Parameters
    ----------
    atlas : Atlas
        The opened atlas; each request works on :meth:`Atlas.cursor`.
    timeout : float
        Seconds a request may run (``serve --query-timeout``).
    predicate_memory : int
        Bytes the clients' SQL may use in all (``serve --query-memory``).
    """

    def __init__(self, atlas: Atlas, timeout: float, predicate_memory: int):
        self.atlas = atlas
        self.timeout = timeout
        _lock_down(atlas.store.con)
        self._sandbox = duckdb.connect(":memory:")
        database = str(atlas.store.path / DB_FILE).replace("'", "''")
        self._sandbox.execute(f"ATTACH '{database}' AS {_ATTACHED} (READ_ONLY)")
        _lock_down(self._sandbox, f"memory_limit = '{int(predicate_memory)}B'")
        self._running: set[_Job] = set()
        self._limiters: dict[str, anyio.CapacityLimiter] = {}  # made in the event loop, on first use
        self._lock = threading.Lock()
        self._stopping = False
        self._closed = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="latentatlas-watchdog", daemon=True)
        self._watchdog.start()

    async def run(self, request: Request, work: Callable[[Atlas], T], predicates: bool = False,
                  heavy: bool = False) -> T:
        """``work(atlas)`` in a worker thread on a cursor of its own; its result, or the error that stopped it.

        ``predicates``: the work evaluates a client's ``where``, so its
        atlas gets a connection of the predicates' database for it.
        ``heavy``: the work is long and CPU-bound (a forecast); it waits for
        one of the heavy work's threads.

        Raises
        ------
        QueryTimeout
            If it ran past the timeout.
        ServerStopping
            If the server stops before it ends (or had stopped before it began).
        ServerBusy
            If the predicates' memory is all in use just now.
        """
        job = _Job(time.monotonic() + self.timeout)
        with self._lock:
            if self._stopping:
                raise ServerStopping("the server is shutting down")
            self._running.add(job)
        outcome: list[tuple[T | None, Exception | None]] = []
        sandbox = self._sandbox if predicates else None
        threads = self._limiter("predicates") if predicates else self._limiter("heavy") if heavy else None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_stop_when_client_leaves, request, job)
                outcome.append(await anyio.to_thread.run_sync(job.work, self.atlas, sandbox, work, limiter=threads))
                group.cancel_scope.cancel()
        finally:
            with self._lock:
                self._running.discard(job)
        result, error = outcome[0]
        if job.reason is not None:
            raise job.reason from None
        if error is not None:
            raise error
        return result  # type: ignore[return-value]

    def _limiter(self, kind: str) -> anyio.CapacityLimiter:
        """The worker threads requests of ``kind`` (with a predicate, heavy) share: half the cores, at least one."""
        if kind not in self._limiters:
            self._limiters[kind] = anyio.CapacityLimiter(max(1, (os.cpu_count() or 1) // 2))
        return self._limiters[kind]

    def stop(self) -> None:
        """Interrupt every running request and refuse new ones (the server is stopping)."""
        with self._lock:
            self._stopping = True
            running = list(self._running)
        for job in running:
            job.stop(ServerStopping("the server is shutting down; the request was stopped"))

    def close(self) -> None:
        """Stop the requests and the watchdog; close the predicates' database."""
        self.stop()
        self._closed.set()
        self._watchdog.join()
        self._sandbox.close()

    def _watch(self) -> None:
        """Every tick: stop the overdue requests, and interrupt again those told to stop."""
        while not self._closed.wait(_TICK_S):
            now = time.monotonic()
            with self._lock:
                running = list(self._running)
            for job in running:
                if job.reason is not None or now > job.deadline:
                    job.stop(QueryTimeout(f"the request ran longer than the server's query timeout of "
                                          f"{self.timeout:g} s (--query-timeout) and was stopped"))


def _predicates(store: Store, sandbox: duckdb.DuckDBPyConnection) -> Store:
    """``store`` over a new connection of the predicates' database."""
    con = sandbox.cursor()
    try:
        con.execute(f"USE {_ATTACHED}")
        return store.cursor(con=con)
    except duckdb.Error as error:
        con.close()
        raise ServerBusy(f"no memory left for where predicates just now (--query-memory); try again: "
                         f"{first_line(error)}") from None


def _lock_down(con: duckdb.DuckDBPyConnection, *settings: str) -> None:
    """One thread per query, no spilling to disk, no file access, and then no more changes (the whole database's).

    A database this process has already locked (another handle on the same
    file shares its configuration) is left as it is.
    """
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
        return
    for setting in (*settings, "threads = 1", "temp_directory = ''", "enable_external_access = false",
                    "lock_configuration = true"):
        con.execute(f"SET {setting}")


async def _stop_when_client_leaves(request: Request, job: _Job) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass  # the rest of a body nobody reads
    job.stop(ClientGone("the client went away"))
