"""The SQLite writer queue: FIFO between threads, exclusive between processes."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from calsync.store.engine import WriterQueue


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _queued(queue: WriterQueue, count: int) -> Callable[[], bool]:
    return lambda: len(queue._waiters) == count


def test_threads_get_the_lock_in_arrival_order(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "db.writers"))
    queue.acquire()
    order: list[int] = []
    threads = []
    for n in range(5):

        def take(n: int = n) -> None:
            queue.acquire()
            order.append(n)
            queue.release()

        thread = threading.Thread(target=take)
        thread.start()
        threads.append(thread)
        _wait_for(_queued(queue, n + 1))
    queue.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_another_process_holding_the_lock_blocks_acquire(tmp_path: Path) -> None:
    path = tmp_path / "db.writers"
    released = tmp_path / "released"
    # The holder keeps the lock until told (a line on stdin) and records that
    # it let go before unlocking: ordering, not timing, shows that we waited.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.readline()\n"
            f"open({str(released)!r}, 'w').close()\n"
            "fcntl.flock(fd, fcntl.LOCK_UN)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        queue = WriterQueue(str(path))
        acquired = threading.Event()
        saw_release: list[bool] = []

        def take() -> None:
            queue.acquire()
            saw_release.append(released.exists())
            acquired.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not acquired.wait(0.3), "acquired while another process held the lock"
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert acquired.wait(30)
        taker.join(5)
        assert saw_release == [True], "acquired only after the holder let go"
        # While we hold it, nobody else can take it.
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                raise AssertionError("the lock was not exclusive")
            except BlockingIOError:
                pass
            queue.release()
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
        finally:
            os.close(fd)
    finally:
        if holder.stdin is not None and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(5)
