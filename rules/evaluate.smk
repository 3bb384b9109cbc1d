# Inversion of the test sets by encoders (ours, dual, encoder baselines) and the metrics of every method.


rule invert_dataset:
    """Invert one test set with one encoder method (ours, dual, encoder baselines); resumable."""
    input:
        test_set=lambda wildcards: dataset_dir(wildcards.test_set),
        checkpoints=checkpoints_of,
        weights=external_inputs("invert_dataset", [lambda wildcards: wildcards.test_set]),
    output:
        inversions=directory(f"{R}/inversions/{{method}}/{{test_set}}"),
    log:
        log_path("invert_dataset", "{method}/{test_set}"),
    benchmark:
        benchmark_path("invert_dataset", "{method}/{test_set}")
    wildcard_constraints:
        method=one_of(ENCODED),
    threads: threads_of("invert")
    resources:
        **resources_of("invert"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/invert_dataset.py"


rule evaluate_method:
    """The metrics of one method on one test set (L2, LPIPS, SSIM, ID, FID, bootstrap intervals)."""
    input:
        test_set=lambda wildcards: dataset_dir(wildcards.test_set),
        inversions=f"{R}/inversions/{{method}}/{{test_set}}",
        weights=external_inputs("evaluate_method", [lambda wildcards: wildcards.test_set]),
    output:
        metrics=f"{R}/metrics/{{method}}/{{test_set}}.json",
    log:
        log_path("evaluate_method", "{method}/{test_set}"),
    benchmark:
        benchmark_path("evaluate_method", "{method}/{test_set}")
    wildcard_constraints:
        method=one_of(EXPERIMENTS),
    threads: threads_of("evaluate")
    resources:
        **resources_of("evaluate"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/evaluate_method.py"


rule gt360_method:
    """The ground-truth 360° scores of one method on generator samples (beyond the paper; dualinv.eval.gt360); resumable."""
    input:
        checkpoints=checkpoints_of,
        weights=external_inputs("gt360_method"),
    output:
        scores=gt360_scores("{method}"),
    log:
        log_path("gt360_method", "{method}"),
    benchmark:
        benchmark_path("gt360_method", "{method}")
    wildcard_constraints:
        method=one_of(EXPERIMENTS),
    threads: threads_of("evaluate")
    resources:
        **gt360_resources(),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/gt360_method.py"
