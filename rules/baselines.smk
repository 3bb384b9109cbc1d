# Per-image optimisation baselines (W+ optimisation, PTI): no training, long GPU jobs per test set.
# The encoder baselines (pSp, e4e, TriPlaneNet v2, GOAE) train through rules/train.smk like ours.


rule optimise_inversions:
    input:
        test_set=lambda wildcards: dataset_dir(wildcards.test_set),
    output:
        inversions=directory(f"{R}/inversions/{{method}}/{{test_set}}"),
    log:
        log_path("optimise_inversions", "{method}/{test_set}"),
    benchmark:
        benchmark_path("optimise_inversions", "{method}/{test_set}")
    wildcard_constraints:
        method=one_of(OPTIMISED),
    threads: threads_of("optimise")
    resources:
        **resources_of("optimise"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/invert_dataset.py"
