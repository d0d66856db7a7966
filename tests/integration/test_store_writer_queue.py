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
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(0.5)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        queue = WriterQueue(str(path))
        started = time.monotonic()
        queue.acquire()
        waited = time.monotonic() - started
        assert waited > 0.2
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
        holder.wait(5)
