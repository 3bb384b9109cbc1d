"""Stand-ins for the library entry points the workflow calls, to test the wiring on its own.

``install_stubs(copy)`` appends a stub of every planned function to a *copy* of the repository
(the last definition in a module wins, so a real implementation there is shadowed). Each stub
checks the types it receives, writes a small placeholder output and records its call in
``<output>.call.json`` (or inside an output folder), so a test can follow the data through the DAG.
"""

from __future__ import annotations

from pathlib import Path

COMMON = '''

def _stub_record(target, name, **arguments):
    import json
    from pathlib import Path
    from dualinv.config import StudyConfig
    config = arguments.pop("config", None)
    assert config is None or isinstance(config, StudyConfig), type(config)
    target = Path(target)
    if target.suffix:
        target.parent.mkdir(parents=True, exist_ok=True)
        record = target.with_name(target.name + ".call.json")
    else:
        target.mkdir(parents=True, exist_ok=True)
        record = target / "call.json"
    plain = {key: (str(value) if isinstance(value, Path) else
                   [str(item) for item in value] if isinstance(value, list) else
                   {k: {kk: str(vv) for kk, vv in v.items()} for k, v in value.items()} if isinstance(value, dict) else value)
             for key, value in arguments.items()}
    record.write_text(json.dumps({"function": name, **plain}))
'''

STUBS = {
    "dualinv/data/__init__.py": '''
def prepare_study_shard(inputs, work, record, config, dataset, index, count):
    _stub_record(record, "prepare_study_shard", inputs=inputs, work=work, dataset=dataset, index=index, count=count)


def merge_study_shards(records, output, config):
    for record in records:
        assert record.is_file(), record
    _stub_record(output, "merge_study_shards", records=records)


def split_dataset(inputs, train_output, val_output, config):
    for folder in inputs:
        assert (folder / "call.json").is_file(), folder
    _stub_record(train_output, "split_dataset", inputs=inputs, config=config)
    _stub_record(val_output, "split_dataset", inputs=inputs, config=config)
''',
    "dualinv/data/synthetic.py": '''
def make_synthetic_dataset(output, config):
    _stub_record(output, "make_synthetic_dataset", config=config)
''',
    "dualinv/training/__init__.py": '''
def train_segment_job(config, experiment, start, stop, checkpoint_in, checkpoint_out, dataset, log_path, progress):
    assert progress is True  # the job's log shows the bar
    assert (dataset / "call.json").is_file(), dataset
    assert (checkpoint_in is None) == (start == 0), (start, checkpoint_in)
    assert checkpoint_in is None or checkpoint_in.is_file()
    checkpoint_out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint_out.write_text(f"{experiment} steps {start}-{stop}")
    log_path.write_text("step,loss_encoder\\n")
    _stub_record(checkpoint_out, "train_segment", experiment=experiment, start=start, stop=stop,
                 checkpoint_in=checkpoint_in, config=config)
''',
    "dualinv/training/segments.py": '''
def finalize_checkpoint(segment_checkpoint, checkpoint):
    import shutil
    shutil.copyfile(segment_checkpoint, checkpoint)
''',
    "dualinv/eval/inverters.py": '''
def invert_dataset(config, method, dataset, checkpoints, output, shard=None):
    assert all(path.is_file() for path in checkpoints), checkpoints
    _stub_record(output, "invert_dataset", method=method, dataset=dataset, checkpoints=checkpoints, config=config,
                 shard=shard)
    return {"names": [], "complete": shard is None}
''',
    "dualinv/eval/__init__.py": '''
def evaluate_method(config, method, dataset, inversions, output):
    assert (inversions / "call.json").is_file(), inversions
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text('{"lpips": 0.5}')
    _stub_record(output, "evaluate_method", method=method, dataset=dataset, inversions=inversions, config=config)
''',
    "dualinv/eval/tables.py": '''
def write_table(table_number, metric_files, output_prefix):
    assert all(path.is_file() for path in metric_files)
    for suffix in (".csv", ".md", ".tex", ".html"):
        output_prefix.with_suffix(suffix).write_text(f"table {table_number}")
    _stub_record(output_prefix.with_suffix(".csv"), "write_table", table_number=table_number, metric_files=metric_files)
''',
    "dualinv/eval/figures.py": '''
def make_figures(config, inversions, output, loss_logs):
    assert all(path.is_file() for paths in loss_logs.values() for path in paths), loss_logs
    _stub_record(output, "make_figures", inversions=inversions, config=config)
    (output / "comparison.png").write_bytes(b"")
''',
}


def install_stubs(repository: Path) -> Path:
    """Append the stubs to the modules of ``repository`` (a copy), creating packages as needed."""
    for relative, source in STUBS.items():
        module = repository / relative
        module.parent.mkdir(parents=True, exist_ok=True)
        for package in (module.parent, module.parent.parent):
            if package.name != "dualinv" and package != repository:
                (package / "__init__.py").touch()
        existing = module.read_text() if module.is_file() else ""
        module.write_text(existing + "\nfrom pathlib import Path\n" + COMMON + source)
    return repository
