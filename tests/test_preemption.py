"""stop_requests: a stop signal sets the flag instead of killing the process, and nothing outlives the block."""

from __future__ import annotations

import os
import signal
import threading

from dualinv.config import ResourcesConfig
from dualinv.preemption import STOP_SIGNALS, STOPPING_GROUPS, stop_requests, stop_warning_resources


def test_a_stop_signal_sets_the_request_and_the_handlers_come_back():
    before = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    with stop_requests() as request:
        assert not request.requested and set(request.handled) == set(STOP_SIGNALS)
        os.kill(os.getpid(), signal.SIGTERM)  # the process survives: the handler only notes it
        assert request.requested and request.signal_name == "SIGTERM"
    assert {number: signal.getsignal(number) for number in STOP_SIGNALS} == before


def test_off_the_main_thread_nothing_is_installed():
    seen = []

    def worker():
        with stop_requests() as request:
            seen.append((request.handled, signal.getsignal(signal.SIGUSR1)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [((), signal.getsignal(signal.SIGUSR1))]


def test_only_the_jobs_that_stop_cleanly_ask_slurm_for_the_early_sigterm():
    resources = ResourcesConfig(stop_warning_seconds=240)
    assert {group: stop_warning_resources(resources, group) for group in ("train", "invert", "optimise")} == {
        group: {"slurm_extra": "--signal=TERM@240"} for group in STOPPING_GROUPS}
    assert stop_warning_resources(resources, "prepare") == {} == stop_warning_resources(resources, "evaluate")
    assert stop_warning_resources(ResourcesConfig(stop_warning_seconds=0), "train") == {}
