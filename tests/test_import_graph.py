"""dualinv's import graph, read from the source with ``ast`` (nothing is imported).

Only the imports that run when a module is imported count: module-level statements, including
those inside top-level ``if``/``try`` blocks and class bodies, but not function bodies and not
``if TYPE_CHECKING:`` blocks. An edge goes to the module an import names: ``import dualinv.a.b``
and ``from dualinv.a import b`` (``b`` a submodule) give ``dualinv.a.b``; ``from dualinv.a import
name`` gives ``dualinv.a``. The implicit import of parent packages is not an edge (every module
would otherwise reach ``dualinv/__init__.py``).

The package-level graph folds each module into ``dualinv.<package>`` (``dualinv.eval.fid`` ->
``dualinv.eval``); a top-level module (``dualinv.weights``) and ``dualinv`` itself are their own
nodes. :func:`function_local_imports` lists the ``dualinv`` imports made inside functions, the
ones this graph leaves out.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "dualinv"


@dataclass(frozen=True)
class LocalImport:
    """A ``dualinv`` import inside a function: where it is and the module it names."""

    module: str
    line: int
    function: str
    imported: str


def module_files(root: Path = REPO_ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file under ``root/package``."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_statements(body: list[ast.stmt], functions: bool, scope: str = "", in_function: bool = False):
    """``(statement, qualified scope)`` for the imports of ``body`` that run at import time or, with
    ``functions``, for those inside function bodies."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if functions == in_function:
                yield node, scope
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if functions:
                yield from _import_statements(node.body, functions, f"{scope}.{node.name}".lstrip("."), True)
        elif isinstance(node, ast.ClassDef):  # a class body runs where the class statement does
            yield from _import_statements(node.body, functions, f"{scope}.{node.name}".lstrip("."), in_function)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_statements(node.orelse, functions, scope, in_function)  # the body never runs
        else:  # if/try/with/for/while/match run their blocks where they stand
            for field in ("body", "orelse", "finalbody"):
                yield from _import_statements(getattr(node, field, None) or [], functions, scope, in_function)
            for clause in [*getattr(node, "handlers", ()), *getattr(node, "cases", ())]:
                yield from _import_statements(clause.body, functions, scope, in_function)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """The ``dualinv`` modules one import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:  # relative: resolve against the importing module's package
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = set()
    for name in names:
        while name and name not in modules:  # `import dualinv.a.b` of a name that is not a module: its module
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def module_graph(root: Path = REPO_ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports at module level."""
    modules = module_files(root, package)
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = set()
        for node, _ in _import_statements(tree.body, functions=False):
            edges |= _targets(node, module, path.name == "__init__.py", modules)
        graph[module] = edges - {module}
    return graph


def package_of(module: str) -> str:
    """``dualinv.eval.fid`` -> ``dualinv.eval``; ``dualinv.weights`` -> itself; ``dualinv`` -> itself."""
    return ".".join(module.split(".")[:2])


def package_graph(root: Path = REPO_ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """The module graph with every module folded into its package (self-edges dropped)."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {}
    for module, targets in module_graph(root, package).items():
        source = package_of(module)
        graph.setdefault(source, set()).update(package_of(target) for target in targets)
    for source, targets in graph.items():
        targets.discard(source)
    assert set(graph) == {package_of(module) for module in modules}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:  # dualinv's graph is a few hundred nodes deep at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=lambda component: (-len(component), component))


def function_local_imports(root: Path = REPO_ROOT, package: str = PACKAGE) -> list[LocalImport]:
    """Every import of a ``package`` module made inside a function body, in file and line order."""
    modules = module_files(root, package)
    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, function in _import_statements(tree.body, functions=True):
            for target in sorted(_targets(node, module, path.name == "__init__.py", modules)):
                found.append(LocalImport(module, node.lineno, function, target))
    return found


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_graph_helpers_find_cycles_and_local_imports(tmp_path):
    """On a small package with known answers, so the dualinv assertions below can fail."""
    _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import thing\n",
        "pkg/a.py": "import pkg.b\nthing = 1\n",
        "pkg/b.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n"
                     "try:\n    from pkg.sub import d\nexcept ImportError:\n    pass\n"),
        "pkg/c.py": ("def late():\n    from pkg.a import thing\n    return thing\n"
                     "class Holder:\n    def get(self):\n        import pkg.sub.e\n"),
        "pkg/sub/__init__.py": "",
        "pkg/sub/d.py": "from .. import a\nclass K:\n    from pkg.sub import e\n",
        "pkg/sub/e.py": "import os\n",
    })
    graph = module_graph(tmp_path, "pkg")
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.d"}, "pkg.c": set(),
                     "pkg.sub": set(), "pkg.sub.d": {"pkg.a", "pkg.sub.e"}, "pkg.sub.e": set()}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.d"]]
    assert package_graph(tmp_path, "pkg") == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub"},
                                              "pkg.c": set(), "pkg.sub": {"pkg.a"}}
    assert function_local_imports(tmp_path, "pkg") == [LocalImport("pkg.c", 2, "late", "pkg.a"),
                                                       LocalImport("pkg.c", 6, "Holder.get", "pkg.sub.e")]


def test_every_module_is_parsed():
    graph = module_graph()
    assert {"dualinv", "dualinv.cli", "dualinv.commands.invert", "dualinv.eval.fid"} <= set(graph)
    assert "dualinv.commands.invert" in graph["dualinv.cli"]
    assert "dualinv.commands.data" in graph["dualinv.commands.invert"]


def test_no_module_level_import_cycle_between_modules():
    assert cycles(module_graph()) == []


def test_no_module_level_import_cycle_between_packages():
    # Function-local imports still close package cycles (training <-> data, training <-> study,
    # dual <-> eval); function_local_imports() lists them. They do not run at import time.
    assert cycles(package_graph()) == []


def test_dualinv_imports_sit_at_module_top():
    """No ``dualinv`` import hides inside a function: the graph above is the whole graph (heavy
    third-party libraries may still be imported where they are needed, each with its reason)."""
    assert function_local_imports() == []


LAYERS: tuple[frozenset[str], ...] = (frozenset({PACKAGE}),) + tuple(  # dualinv/__init__.py: the version only
    frozenset(f"{PACKAGE}.{name}" for name in layer.split()) for layer in (
    "errors camera fileio seeding shapes native_logs preemption progress",          # foundations
    "config devices distributed mesh output_names report_html tensor_checks weights",
    "panohead state_dicts",                                      # the generator
    "occlusion standin views",
    "encoders discriminators demo_generator",                    # networks
    "losses models",                                             # the paper's terms; the models layer
    "baselines data study",
    "training dual workflow_inputs",
    "eval edit",
    "commands inversion_jobs provenance",                        # the CLI's and the workflow's glue
    "cli jobs",
))
"""The layers of the package, bottom first (README "Layout"): an import may only go to its own layer or below."""


def test_every_package_import_goes_down_the_layers():
    layer_of = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    graph = package_graph()
    assert set(graph) <= set(layer_of), f"packages without a layer: {sorted(set(graph) - set(layer_of))}"
    upward = sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                    if target != source and layer_of[target] > layer_of[source])
    assert upward == []
    for above in ("training", "dual", "data", "eval", "baselines", "commands"):  # models sits below its users
        assert f"{PACKAGE}.{above}" not in graph[f"{PACKAGE}.models"]


def test_every_import_inside_a_function_says_why():
    """The imports left inside functions are heavy third-party libraries kept off the CLI's start-up;
    each carries its reason in a comment on its line or the line above."""
    unexplained = []
    for module, path in module_files().items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        here, above = lines[inner.end_lineno - 1], lines[inner.lineno - 2]
                        if "#" not in here and not above.strip().startswith("#"):
                            unexplained.append(f"{module}:{inner.lineno}: {here.strip()}")
    assert unexplained == []
