"""SQLite with persistent connections (settings ``CONN_MAX_AGE``, issue 17).

A thread keeps its connection across requests, and the locking guarantees stay:
writers from two threads or two processes serialize (no lost update, no
'database is locked'), and a plain read is never held back by a writer.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.db import connection, connections, transaction

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 30.0  # an upper bound for the test's own waits; nothing asserts a time
TABLE = "test_sqlite_connections_rows"


@pytest.fixture(autouse=True)
def sqlite_table() -> Iterator[None]:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's connection handling")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")


def rows() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT v FROM {TABLE} ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def in_thread(target: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connections

    thread = threading.Thread(target=body)
    thread.start()
    return thread, errors


def test_a_thread_keeps_its_connection_across_requests() -> None:
    seen: list[object] = []

    def requests() -> None:
        for _ in range(3):
            request_started.send(sender=None)
            rows()
            seen.append(connection.connection)
            request_finished.send(sender=None)

    thread, errors = in_thread(requests)
    thread.join(WAIT)
    assert errors == []
    assert len(seen) == 3 and seen[0] is not None
    assert seen[0] is seen[1] is seen[2]


def test_writer_threads_serialize_and_a_reader_is_not_held_back() -> None:
    threads, rounds = 4, 15
    holding, release = threading.Event(), threading.Event()

    def increment() -> None:
        for _ in range(rounds):
            request_started.send(sender=None)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
                (count,) = cursor.fetchone()
                cursor.execute(f"INSERT INTO {TABLE} (v) VALUES (%s)", [str(count)])
            request_finished.send(sender=None)

    def hold() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {TABLE} (v) VALUES ('held')")
            holding.set()
            assert release.wait(WAIT)
            cursor.execute(f"DELETE FROM {TABLE} WHERE v = 'held'")

    holder, holder_errors = in_thread(hold)
    assert holding.wait(WAIT)
    writers = [in_thread(increment) for _ in range(threads)]
    # While a write transaction is open, a plain read answers from the last commit.
    assert rows() == []
    release.set()
    holder.join(WAIT)
    for thread, _ in writers:
        thread.join(WAIT * 4)
    assert holder_errors == []
    assert [e for _, errors in writers for e in errors] == []
    # Each transaction saw every earlier one: the n-th row holds n.
    assert rows() == [str(n) for n in range(threads * rounds)]


# Another process holds SQLite's write lock until told to let go.
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=20)
db.execute("BEGIN IMMEDIATE")
db.execute(f"INSERT INTO {sys.argv[2]} (v) VALUES ('other process')")
print("holding", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
db.close()
"""


def test_a_writer_in_another_process_goes_first_and_nothing_fails() -> None:
    name = str(connection.settings_dict["NAME"])
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, name, TABLE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "holding"
        assert rows() == []  # a reader is not held back by the other process

        def write() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {TABLE} (v) VALUES ('this process')")

        writer, errors = in_thread(write)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(WAIT) == 0
        writer.join(WAIT)
        assert errors == []
        assert rows() == ["other process", "this process"]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
