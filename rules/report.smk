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


rule make_table_gt360:
    """table_gt360 (beyond the paper): every method against the generator's own renders all around the head,
    as CSV, Markdown, LaTeX and HTML, and the error-vs-yaw plot."""
    input:
        scores=[gt360_scores(method) for method in gt360_methods(STUDY)],
    output:
        csv=report(f"{R}/tables/table_gt360.csv", caption="../report/table_gt360.rst", category="Tables (long CSV)"),
        md=f"{R}/tables/table_gt360.md",
        tex=f"{R}/tables/table_gt360.tex",
        html=report(f"{R}/tables/table_gt360.html", caption="../report/table_gt360.rst", category="Tables"),
        plot=report(f"{R}/tables/table_gt360_vs_yaw.png", caption="../report/table_gt360.rst", category="Figures"),
    log:
        log_path("make_table_gt360", "table_gt360"),
    benchmark:
        benchmark_path("make_table_gt360", "table_gt360")
    threads: 1
    resources:
        **BOOKKEEPING,
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/make_table_gt360.py"


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
