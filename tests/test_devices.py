"""The device names recorded beside measured times (Table 1 "Time sec")."""

import torch

from dualinv.devices import device_name


def test_a_gpu_is_named_by_its_model(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"NVIDIA H200 #{index}")
    assert device_name("cuda") == "cuda:0 (NVIDIA H200 #0)"
    assert device_name("cuda:1") == "cuda:1 (NVIDIA H200 #1)"


def test_a_cpu_is_named_with_its_torch_threads():
    name = device_name("cpu")
    assert name.startswith("cpu (") and name.endswith(f"{torch.get_num_threads()} threads)")
