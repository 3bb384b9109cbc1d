"""Atomically written files: mode, leftovers of a kill, byte-reproducible .pt, one line ending."""

import os
import socket
import subprocess
import sys

import torch

from dualinv.fileio import torch_save_atomic, write_text_atomic
from dualinv.training.monitor import LossLog, read_loss_log


def test_atomic_files_get_the_umask_mode_not_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "index.html", "<html></html>")
        torch_save_atomic(tmp_path / "ck.pt", {"a": torch.zeros(2)})
        os.umask(0o002)
        write_text_atomic(tmp_path / "rejects.csv", "source,reason,detail\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "index.html").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "ck.pt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "rejects.csv").stat().st_mode & 0o777 == 0o664


def _temporary_of_a_killed_writer(target):
    """Start a writer in a child process, kill it while its temporary exists."""
    code = ("import sys, time; from dualinv.fileio import atomic_path\n"
            "with atomic_path(sys.argv[1]) as t:\n"
            "    t.write_bytes(b'half'); print('ready', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert child.stdout.readline().strip() == "ready"
    child.kill()
    child.wait()
    leftovers = list(target.parent.glob(f".{target.name}.*.tmp"))
    assert len(leftovers) == 1
    return leftovers[0]


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "ck.pt.partial"
    leftover = _temporary_of_a_killed_writer(target)
    torch_save_atomic(target, {"step": 1})
    assert not leftover.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ck.pt.partial"]


def test_live_and_foreign_temporaries_are_kept(tmp_path):
    from dualinv.fileio import remove_stale_temporaries

    target = tmp_path / "x.json"
    mine = tmp_path / f".x.json.{socket.gethostname().replace('.', '_')}-{os.getpid()}.abc.tmp"
    foreign = tmp_path / ".x.json.otherhost-1.abc.tmp"
    mine.write_text("in progress")
    foreign.write_text("another node writes this")
    assert remove_stale_temporaries(target) == []
    old = tmp_path / ".x.json.otherhost-1.old.tmp"
    old.write_text("a day old")
    os.utime(old, (1, 1))
    assert remove_stale_temporaries(target) == [old]
    assert mine.exists() and foreign.exists()


def test_equal_payloads_give_equal_pt_bytes_whatever_the_path(tmp_path):
    payload = {"format": "x", "state": {"w": torch.arange(6.0).reshape(2, 3)}, "step": 3}
    torch_save_atomic(tmp_path / "a.pt", payload)
    torch_save_atomic(tmp_path / "other" / "b.pt", payload)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "other" / "b.pt").read_bytes()


def test_inversion_fingerprint_survives_an_identical_rewrite_of_the_checkpoint(tmp_path):
    from dualinv.inversion_jobs import inversion_fingerprint
    from dualinv.config import load_config

    config = load_config(presets=("presets/mini.yaml",))
    checkpoint = tmp_path / "checkpoint.pt"
    payload = {"encoder": {"w": torch.ones(3)}, "step": 10}
    torch_save_atomic(checkpoint, payload)
    before = inversion_fingerprint(config, "ours", tmp_path, [checkpoint])
    torch_save_atomic(checkpoint, payload)  # an identical retraining writes the same content again
    assert inversion_fingerprint(config, "ours", tmp_path, [checkpoint]) == before


def test_resumed_loss_log_has_one_line_ending(tmp_path):
    path = tmp_path / "losses.csv"
    log = LossLog(path, resume_step=0)
    for step in range(4):
        log.write(step, {"l2": 0.5 + step, "lpips": 0.25})
    resumed = LossLog(path, resume_step=2)  # a killed segment resumes at step 2
    for step in range(2, 4):
        resumed.write(step, {"l2": 0.5 + step, "lpips": 0.25, "r1": 1.0})
    data = path.read_bytes()
    assert b"\r" not in data
    assert [row["step"] for row in read_loss_log(path)] == [0, 1, 2, 3]
