"""The emulator's one-stack-operation-at-a-time lock and its set-aside window."""

from __future__ import annotations

import threading

from drlib.emulator.stack_operations import TurnLock


def _taken_by_another_thread(lock: TurnLock, within_s: float) -> bool:
    """Whether another thread can take ``lock`` within ``within_s`` (and then gives it back)."""
    taken = threading.Event()

    def take() -> None:
        with lock:
            taken.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    result = taken.wait(within_s)
    return result


def test_the_holder_can_take_it_again_and_others_wait_until_the_last_release() -> None:
    lock = TurnLock()
    with lock:
        with lock:
            assert lock.held()
            assert not _taken_by_another_thread(lock, 0.5)
        assert lock.held()
    assert not lock.held()
    assert _taken_by_another_thread(lock, 10)


def test_set_aside_lets_another_thread_in_and_gives_the_holder_its_depth_back() -> None:
    lock = TurnLock()
    with lock, lock:
        with lock.set_aside():
            assert not lock.held()
            assert _taken_by_another_thread(lock, 10)
        assert lock.held()
        assert not _taken_by_another_thread(lock, 0.5)
    assert not lock.held()


def test_set_aside_by_a_thread_that_does_not_hold_it_changes_nothing() -> None:
    lock = TurnLock()
    seen: list[bool] = []

    def hold_until_told(go: threading.Event, holding: threading.Event) -> None:
        with lock:
            holding.set()
            go.wait(5)

    go, holding = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_until_told, args=(go, holding), daemon=True)
    holder.start()
    assert holding.wait(5)
    with lock.set_aside():  # this thread does not hold it: the holder keeps it
        seen.append(lock.held())
    assert not _taken_by_another_thread(lock, 0.5)
    go.set()
    holder.join(5)
    assert seen == [False]
    assert _taken_by_another_thread(lock, 10)


def test_set_aside_gives_the_turn_back_after_an_error() -> None:
    lock = TurnLock()
    with lock:
        try:
            with lock.set_aside():
                raise ValueError("in the window")
        except ValueError:
            pass
        assert lock.held()
    assert not lock.held()
