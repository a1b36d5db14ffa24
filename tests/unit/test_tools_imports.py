"""``tools`` is one package: its modules import each other as ``tools.<name>``, so no
module is ever loaded twice under two names (``loadgen`` and ``tools.loadgen``)."""
import ast
import pathlib

import pytest

TOOLS = pathlib.Path(__file__).resolve().parents[2] / 'tools'
SIBLINGS = {p.stem for p in TOOLS.glob('*.py')} - {'__init__'}


@pytest.mark.parametrize('path', sorted(TOOLS.glob('*.py')), ids=lambda p: p.name)
def test_tools_import_siblings_through_the_package(path):
    bare = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            bare += [a.name for a in node.names if a.name.split('.')[0] in SIBLINGS]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split('.')[0] in SIBLINGS:
                bare.append(node.module)
    assert not bare, '%s imports %s; use "from tools import ..."' % (path.name, bare)


def test_scripts_run_as_modules():
    import tools.bench_pipeline
    import tools.loadgen
    from tools import benchutil
    assert benchutil.loadgen is tools.loadgen
    assert tools.bench_pipeline.benchutil is benchutil
