"""Definitions written inline in a notebook's .py source, loaded with ast (not regex), so that a
test can check that they behave like the helpers the later cells import."""

import ast
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def definitions(notebook, names, namespace):
    """{name: object} for the top-level functions and classes `names` of notebooks/`notebook`,
    executed in a copy of `namespace` (the modules their bodies use)."""
    path = NOTEBOOKS / notebook
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]
    found = [n.name for n in nodes]
    assert sorted(found) == sorted(names), f"{notebook} should define {names} once each; found {found}"
    namespace = dict(namespace)
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


def solutions(notebook, namespace):
    """{name: function} defined by the worked solutions of notebooks/`notebook`'s exercises,
    executed in a copy of `namespace` (the modules their bodies use)."""
    from tools.nbtools import exercises, read_source

    namespace = dict(namespace)
    names = []
    for _, code in exercises(read_source(NOTEBOOKS / notebook)):
        tree = ast.parse(code)
        names += [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
        exec(compile(tree, f"{notebook} (solution)", "exec"), namespace)
    return {name: namespace[name] for name in names}
