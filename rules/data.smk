# Data: source datasets -> aligned crops + masks + dataset.json -> train/val split (DESIGN.md, Data flow).


rule prepare_shard:
    """One shard of a photo dataset's preparation (paper §4.1); the photos a failed try finished are kept."""
    input:
        photos=lambda wildcards: photos_of(wildcards.source_dataset),
        split=lambda wildcards: split_files_of(wildcards.source_dataset),
        weights=external_inputs("prepare_shard", [lambda wildcards: wildcards.source_dataset]),
    output:
        record=f"{R}/preparation_shards/{{source_dataset}}/{{shard}}.json",
    log:
        log_path("prepare_shard", "{source_dataset}/{shard}"),
    benchmark:
        benchmark_path("prepare_shard", "{source_dataset}/{shard}")
    params:
        work=lambda wildcards: preparation_work_dir(wildcards.source_dataset, wildcards.shard),
        shards=STUDY.resources.prepare_shards,
    wildcard_constraints:
        source_dataset=one_of(PHOTO_DATASETS),
        shard=r"\d+",
    threads: threads_of("prepare")
    resources:
        **resources_of("prepare"),
    conda:
        "../envs/prep.yaml"
    script:
        "../workflow_scripts/prepare_shard.py"


rule prepare_images:
    """Merge a photo dataset's shards into the prepared dataset: crops, masks, cameras, dataset.json (§4.1)."""
    input:
        shards=preparation_records,
    output:
        dataset=directory(f"{R}/data/{{source_dataset}}"),
    log:
        log_path("prepare_images", "{source_dataset}"),
    benchmark:
        benchmark_path("prepare_images", "{source_dataset}")
    wildcard_constraints:
        source_dataset=one_of(PHOTO_DATASETS),
    threads: 1
    resources:
        **BOOKKEEPING,
    conda:
        "../envs/prep.yaml"
    script:
        "../workflow_scripts/prepare_images.py"


rule extract_mead_frames:
    """Frames of MEAD's front and ±30°/±60° cameras from its videos, a seeded frame choice per take."""
    input:
        videos=lambda wildcards: getattr(STUDY.data, wildcards.source_dataset).path,
    output:
        frames=directory(f"{R}/data/{{source_dataset}}_frames"),
    log:
        log_path("extract_mead_frames", "{source_dataset}"),
    benchmark:
        benchmark_path("extract_mead_frames", "{source_dataset}")
    wildcard_constraints:
        source_dataset=one_of(datasets_with_source(STUDY, "videos")),
    threads: threads_of("prepare")
    resources:
        **resources_of("prepare"),
    conda:
        "../envs/prep.yaml"
    script:
        "../workflow_scripts/extract_mead_frames.py"


rule make_synthetic_dataset:
    """Multi-view renders of the (stand-in) generator as a prepared dataset with true cameras."""
    input:
        weights=external_inputs("make_synthetic_dataset"),
    output:
        dataset=directory(f"{R}/data/{{source_dataset}}"),
    log:
        log_path("make_synthetic_dataset", "{source_dataset}"),
    benchmark:
        benchmark_path("make_synthetic_dataset", "{source_dataset}")
    wildcard_constraints:
        source_dataset=one_of(datasets_with_source(STUDY, "synthetic")),
    threads: threads_of("prepare")
    resources:
        **resources_of("prepare"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/make_synthetic_dataset.py"


rule split_dataset:
    """Merge FFHQ and LPFF and split them into rebalanced train and validation sets (links, no copies)."""
    input:
        sources=[dataset_dir(name) for name in TRAINING_SOURCES],
        weights=external_inputs("split_dataset", TRAINING_SOURCES),
    output:
        train=directory(dataset_dir("train")),
        val=directory(dataset_dir("val")),
    log:
        log_path("split_dataset", "train_val"),
    benchmark:
        benchmark_path("split_dataset", "train_val")
    threads: 1
    resources:
        **BOOKKEEPING,
    conda:
        "../envs/prep.yaml"
    script:
        "../workflow_scripts/split_dataset.py"
