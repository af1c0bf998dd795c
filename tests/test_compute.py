"""The per-worker computing slot: one hook computation at a time, handed over while waiting on the network."""

from __future__ import annotations

import threading
import time

from cds_service import compute


def test_calls_take_turns():
    inside, most = [0], [0]
    lock = threading.Lock()

    def work():
        with compute.computing():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert most[0] == 1 and inside[0] == 0


def test_waiting_hands_the_slot_over_and_takes_it_back():
    other_ran = threading.Event()
    order: list[str] = []

    def other():
        with compute.computing():
            order.append("other")
            other_ran.set()

    with compute.computing():
        t = threading.Thread(target=other)
        t.start()
        assert not other_ran.wait(0.1)  # held: the other call waits
        with compute.waiting():
            assert not compute.holding()
            assert other_ran.wait(5)  # given up: the other call computes meanwhile
        assert compute.holding()
        order.append("first, again")
    t.join(5)
    assert order == ["other", "first, again"]


def test_nested_and_unheld_use_does_not_deadlock():
    with compute.computing():
        with compute.computing():
            assert compute.holding()
        assert compute.holding()  # the outer hold stays
    assert not compute.holding()
    with compute.waiting():  # not holding: nothing to give up
        assert not compute.holding()
    # The slot is free again for another thread.
    got = []

    def other():
        with compute.computing():
            got.append(compute.holding())

    t = threading.Thread(target=other)
    t.start()
    t.join(5)
    assert got == [True]
