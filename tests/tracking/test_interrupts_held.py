"""``interrupts_held``: a first Ctrl+C waits for the block to end, a second stops it at once."""

from __future__ import annotations

import signal

import pytest

from workbench.errors import Terminated
from workbench.tracking import interrupts_held


def test_a_first_ctrl_c_is_delivered_once_the_block_has_ended() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            signal.raise_signal(signal.SIGINT)
            done.append("the rest of the block")
    assert done == ["the rest of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_stops_the_block_at_once() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            done.append("the rest of the block")
    assert done == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_signals_named_are_held_and_go_to_their_own_handler() -> None:
    def terminate(signum: int, frame: object) -> None:
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, terminate)
    done: list[str] = []
    try:
        with pytest.raises(Terminated):
            with interrupts_held(signal.SIGINT, signal.SIGTERM):
                signal.raise_signal(signal.SIGTERM)
                done.append("the rest of the block")
        assert done == ["the rest of the block"] and signal.getsignal(signal.SIGTERM) is terminate
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_block_without_an_interrupt_raises_nothing() -> None:
    with interrupts_held(signal.SIGINT, signal.SIGTERM):
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
