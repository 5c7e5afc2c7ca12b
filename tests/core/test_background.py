# SPDX-License-Identifier: GPL-3.0-or-later
"""The background writer: order, bounded queue, errors handed back, nothing lost."""

import threading
import time

import pytest
from ground_truth.exporters.background import BackgroundWriter


def test_jobs_run_in_order_and_close_waits_for_all():
    done = []
    writer = BackgroundWriter(depth=2)
    for i in range(20):
        writer.submit(lambda i=i: (time.sleep(0.001), done.append(i)))
    writer.close()
    assert done == list(range(20))


def test_the_queue_is_bounded():
    release = threading.Event()
    writer = BackgroundWriter(depth=1)
    writer.submit(release.wait)  # the worker is busy with this one
    writer.submit(lambda: None)  # this one waits in the queue
    blocked = threading.Thread(target=writer.submit, args=(lambda: None,))
    blocked.start()
    blocked.join(timeout=0.2)
    assert blocked.is_alive()  # a third would exceed the bound: submit waits
    release.set()
    blocked.join(timeout=5)
    writer.close()


def test_an_error_comes_back_and_later_jobs_are_skipped():
    done = []
    go = threading.Event()
    writer = BackgroundWriter(depth=1)

    def fail():
        go.wait()
        raise OSError(28, "No space left on device")

    writer.submit(fail)
    writer.submit(lambda: done.append("queued behind the failure"))
    go.set()
    # The error comes back from a later submit, however the threads are scheduled: each
    # submit either raises it or queues a job that must then be skipped.
    deadline = time.monotonic() + 30
    with pytest.raises(OSError, match="No space left"):
        while time.monotonic() < deadline:
            writer.submit(lambda: done.append("submitted after it"))
    writer.close()
    assert done == []


def test_close_raises_an_error_of_the_last_job():
    writer = BackgroundWriter()
    writer.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        writer.close()
