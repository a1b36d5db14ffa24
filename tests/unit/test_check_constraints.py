"""tools/check_constraints.py: requirements against constraints files, offline."""
import pathlib

from packaging import markers
from packaging import requirements
import pytest

from tools import check_constraints

PY311 = dict(markers.default_environment(), python_version='3.11')


def _write(tmp_path, branch, upper, global_reqs=None):
    (tmp_path / ('upper-constraints-%s.txt' % branch)).write_text(upper)
    if global_reqs is not None:
        (tmp_path / ('global-requirements-%s.txt' % branch)).write_text(global_reqs)


def _check(tmp_path, *lines, env=PY311):
    reqs = [requirements.Requirement(line) for line in lines]
    return check_constraints.check_branch('b', reqs, env, directory=tmp_path)


def test_a_pin_inside_every_requirement_resolves(tmp_path):
    _write(tmp_path, 'b', 'oslo.config===10.7.0\nElasticsearch===8.19.3\n',
           'oslo.config!=4.3.0  # Apache-2.0\nelasticsearch  # Apache-2.0\n')
    problems, notes = _check(tmp_path, 'oslo_config>=9.0.0', 'elasticsearch[orjson]>=8.13,<9')
    assert (problems, notes) == ([], [])


def test_a_pin_outside_a_requirement_fails(tmp_path):
    _write(tmp_path, 'b', 'elasticsearch===9.5.0\n')
    problems, _ = _check(tmp_path, 'elasticsearch[orjson]>=8.13,<9')
    assert problems == ['elasticsearch[orjson]<9,>=8.13: upper-constraints pins 9.5.0']


def test_a_pin_global_requirements_exclude_fails(tmp_path):
    _write(tmp_path, 'b', 'kombu===4.0.2\n', 'kombu!=4.0.2  # BSD\n')
    problems, _ = _check(tmp_path, 'kombu>=4.0')
    assert problems == ['kombu>=4.0: global-requirements (!=4.0.2) excludes the pin 4.0.2']


def test_unpinned_and_unlisted_requirements_are_noted(tmp_path):
    _write(tmp_path, 'b', 'stevedore===5.9.1\n', 'stevedore  # Apache-2.0\n')
    problems, notes = _check(tmp_path, 'orjson>=3.9')
    assert problems == []
    assert notes == ['orjson>=3.9: not in global-requirements',
                     'orjson>=3.9: not in upper-constraints (pip picks the newest that fits)']


def test_markers_pick_the_lines_of_the_python_checked(tmp_path):
    _write(tmp_path, 'b', "cliff===4.15.0;python_version=='3.11'\n"
                          "cliff===3.0.0;python_version=='3.10'\n")
    assert _check(tmp_path, 'cliff>=4.0.0')[0] == []
    py310 = dict(PY311, python_version='3.10')
    assert _check(tmp_path, 'cliff>=4.0.0', env=py310)[0] == [
        'cliff>=4.0.0: upper-constraints pins 3.0.0']


def test_install_requires_are_read_from_setup_cfg():
    names = {r.name for r in check_constraints.install_requires()}
    assert {'ceilometer', 'oslo.config', 'elasticsearch'} <= names


def test_the_floor_on_ceilometer_admits_devstacks_git_version():
    # devstack installs ceilometer's master, versioned by pbr after the last
    # tag it reaches (26.0.0 at ceilometer b4ccf244): 26.0.1.dev130.
    (ceilometer,) = [r for r in check_constraints.install_requires() if r.name == 'ceilometer']
    assert ceilometer.specifier.contains('26.0.1.dev130', prereleases=True)


def test_the_kept_files_are_where_the_checker_looks():
    kept = sorted(p.name for p in pathlib.Path(check_constraints.CONSTRAINTS).glob('*.txt'))
    assert 'upper-constraints-master.txt' in kept
    assert len([k for k in kept if k.startswith('upper-constraints-')]) >= 2


@pytest.mark.parametrize('branch', sorted(
    p.name[len('upper-constraints-'):-len('.txt')]
    for p in check_constraints.CONSTRAINTS.glob('upper-constraints-*.txt')))
def test_install_requires_resolve_within_the_kept_constraints(branch):
    """The offline check of CI: ``pip install -c upper-constraints.txt .``
    resolves for every branch kept in constraints/ (devstack installs so)."""
    problems, _ = check_constraints.check_branch(
        branch, check_constraints.install_requires(), markers.default_environment())
    assert problems == []


@pytest.mark.parametrize('branch', sorted(
    p.name[len('upper-constraints-'):-len('.txt')]
    for p in check_constraints.CONSTRAINTS.glob('upper-constraints-*.txt')))
def test_test_requirements_resolve_within_the_kept_constraints(branch):
    """The test venv's own pins (keystonemiddleware, keystoneauth1 ...) too."""
    reqs = check_constraints.install_requires(extra='test')
    assert {'keystoneauth1', 'keystonemiddleware'} <= {r.name for r in reqs}
    problems, _ = check_constraints.check_branch(branch, reqs, markers.default_environment())
    assert problems == []
