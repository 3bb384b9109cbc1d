# Training: each experiment is a chain of resumable segments, one job each (DESIGN.md, Slurm).


rule train_segment:
    """Training steps [start, stop) of one experiment, resumed from the previous segment's checkpoint."""
    input:
        train=rules.split_dataset.output.train,
        val=rules.split_dataset.output.val,
        resume=resume_from,
        weights=external_inputs("train_segment"),
    output:
        checkpoint=temp(f"{R}/models/{{experiment}}/segments/{{segment}}.pt"),
        losses=segment_losses("{experiment}", "{segment}"),
    log:
        log_path("train_segment", "{experiment}/{segment}"),
    benchmark:
        benchmark_path("train_segment", "{experiment}/{segment}")
    params:
        segment=segment_bounds,
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/train_segment.py"


rule finalize_model:
    """Publish the last segment's checkpoint as the experiment's checkpoint.pt (a hard link)."""
    input:
        checkpoint=last_segment_checkpoint,
    output:
        checkpoint=f"{R}/models/{{experiment}}/checkpoint.pt",
    log:
        log_path("finalize_model", "{experiment}"),
    benchmark:
        benchmark_path("finalize_model", "{experiment}")
    threads: 1
    resources:
        **BOOKKEEPING,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/finalize_model.py"
