# Tables 1-5 (CSV, Markdown, LaTeX; paper numbers beside ours) and the figures.


rule make_table:
    """Table N of the paper as CSV, Markdown and LaTeX, paper numbers beside ours."""
    input:
        metrics=table_metrics,
    output:
        csv=report(f"{R}/tables/table{{table}}.csv", caption="../report/table_csv.rst", category="Tables (long CSV)"),
        md=f"{R}/tables/table{{table}}.md",
        tex=f"{R}/tables/table{{table}}.tex",
        html=report(f"{R}/tables/table{{table}}.html", caption="../report/table.rst", category="Tables"),
    log:
        log_path("make_table", "table{table}"),
    benchmark:
        benchmark_path("make_table", "table{table}")
    threads: 1
    resources:
        **BOOKKEEPING,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/make_table.py"


rule make_figures:
    """The paper's comparison figures (5-9) from the inversions and the training loss curves."""
    input:
        inversions=[inversions_path(method, test_set) for method, test_set in figure_pairs()],
        losses=[path for paths in training_loss_logs().values() for path in paths],
    output:
        figures=report(directory(f"{R}/figures"), patterns=["{name}.png"], caption="../report/figures.rst", category="Figures"),
    log:
        log_path("make_figures", "figures"),
    benchmark:
        benchmark_path("make_figures", "figures")
    params:
        pairs=figure_pairs(),
        losses=training_loss_logs(),
    threads: threads_of("report")
    resources:
        **resources_of("report"),
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/make_figures.py"
