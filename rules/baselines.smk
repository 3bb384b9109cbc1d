# Per-image optimisation baselines (W+ optimisation, PTI): no training; long GPU work per test set,
# split into `resources.optimise_shards` parallel shards that keep their progress when they fail
# (dualinv.inversion_jobs), then one short job that publishes the inversions folder.
# The encoder baselines (pSp, e4e, TriPlaneNet v2, GOAE) train through rules/train.smk like ours.


rule optimise_shard:
    """One shard of a per-image optimisation baseline (W+ optimisation, PTI) over one test set; resumable."""
    input:
        test_set=lambda wildcards: dataset_dir(wildcards.test_set),
        weights=external_inputs("optimise_shard", [lambda wildcards: wildcards.test_set]),
    output:
        record=f"{R}/optimisation_shards/{{method}}/{{test_set}}/{{shard}}.json",
    log:
        log_path("optimise_shard", "{method}/{test_set}/{shard}"),
    benchmark:
        benchmark_path("optimise_shard", "{method}/{test_set}/{shard}")
    wildcard_constraints:
        method=one_of(OPTIMISED),
    params:
        inversions=lambda wildcards: inversions_path(wildcards.method, wildcards.test_set),
    threads: threads_of("optimise")
    resources:
        **resources_of("optimise"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/optimise_shard.py"


rule optimise_inversions:
    """Publish an optimisation baseline's inversions of one test set once every shard has finished."""
    input:
        test_set=lambda wildcards: dataset_dir(wildcards.test_set),
        shards=shard_records,
        weights=external_inputs("optimise_inversions", [lambda wildcards: wildcards.test_set]),
    output:
        inversions=directory(f"{R}/inversions/{{method}}/{{test_set}}"),
    log:
        log_path("optimise_inversions", "{method}/{test_set}"),
    benchmark:
        benchmark_path("optimise_inversions", "{method}/{test_set}")
    wildcard_constraints:
        method=one_of(OPTIMISED),
    threads: threads_of("invert")
    resources:
        **resources_of("invert"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/invert_dataset.py"
