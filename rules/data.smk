# Data: source datasets -> aligned crops + masks + dataset.json -> train/val split (DESIGN.md, Data flow).


rule prepare_images:
    input:
        photos=lambda wildcards: photos_of(wildcards.source_dataset),
        split=lambda wildcards: split_files_of(wildcards.source_dataset),
    output:
        dataset=directory(f"{R}/data/{{source_dataset}}"),
    log:
        log_path("prepare_images", "{source_dataset}"),
    benchmark:
        benchmark_path("prepare_images", "{source_dataset}")
    wildcard_constraints:
        source_dataset=one_of(datasets_with_source(STUDY, "photos") + datasets_with_source(STUDY, "public_domain")
                              + datasets_with_source(STUDY, "videos")),
    threads: threads_of("prepare")
    resources:
        **resources_of("prepare"),
    conda:
        "../envs/prep.yaml"
    script:
        "../workflow_scripts/prepare_images.py"


rule extract_mead_frames:
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
    input:
        sources=[dataset_dir(name) for name in TRAINING_SOURCES],
    output:
        train=directory(dataset_dir("train")),
        val=directory(dataset_dir("val")),
    log:
        log_path("split_dataset", "train_val"),
    benchmark:
        benchmark_path("split_dataset", "train_val")
    threads: threads_of("prepare")
    resources:
        **resources_of("prepare"),
    conda:
        "../envs/prep.yaml"
    script:
        "../workflow_scripts/split_dataset.py"
