"""``dualinv train`` end to end on a prepared (rendered) dataset folder, then a resumed segment."""

from __future__ import annotations

from dualinv.cli import main
from dualinv.data.dataset import write_labels
from dualinv.fileio import save_image
from dualinv.models.checkpoint import load_training_checkpoint

from .tiny import rendered_heads, tiny_generator


def test_train_command_runs_two_chained_segments(tmp_path, capsys):
    dataset = tmp_path / "dataset"
    labels = {}
    for index, item in enumerate(rendered_heads(tiny_generator()[0], 2)):
        save_image(dataset / f"head{index}.png", item["image"])
        labels[f"head{index}.png"] = item["camera"].double().numpy()
    write_labels(dataset, labels)
    common = ["train", "real_wplus", "--stand-in", "--dataset", str(dataset)]
    assert main([*common, "--stop", "1", "--checkpoint-out", str(tmp_path / "s1.pt")]) == 0
    assert main([*common, "--start", "1", "--stop", "2", "--checkpoint-in", str(tmp_path / "s1.pt"),
                 "--checkpoint-out", str(tmp_path / "s2.pt")]) == 0
    assert load_training_checkpoint(tmp_path / "s2.pt")["step"] == 2
    assert "steps [1, 2) done" in capsys.readouterr().out
    assert main([*common, "--start", "1", "--stop", "2", "--checkpoint-out", str(tmp_path / "s3.pt")]) == 2
    assert "needs the checkpoint of step 1" in capsys.readouterr().err
