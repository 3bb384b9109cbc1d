# Tables 1-5 (CSV, Markdown, LaTeX; paper numbers beside ours) and the figures.


rule make_table:
    input:
        metrics=table_metrics,
    output:
        csv=report(f"{R}/tables/table{{table}}.csv", caption="../report/table.rst", category="Tables"),
        md=f"{R}/tables/table{{table}}.md",
        tex=f"{R}/tables/table{{table}}.tex",
    log:
        log_path("make_table", "table{table}"),
    benchmark:
        benchmark_path("make_table", "table{table}")
    threads: threads_of("report")
    resources:
        **resources_of("report"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/make_table.py"


rule make_figures:
    input:
        inversions=[inversions_path(method, test_set) for method, test_set in figure_pairs()],
    output:
        figures=report(directory(f"{R}/figures"), patterns=["{name}.png"], caption="../report/figures.rst", category="Figures"),
    log:
        log_path("make_figures", "figures"),
    benchmark:
        benchmark_path("make_figures", "figures")
    params:
        pairs=figure_pairs(),
    threads: threads_of("report")
    resources:
        **resources_of("report"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/make_figures.py"
