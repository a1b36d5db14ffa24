"""Check, offline, that nvs-notif's install_requires resolve within OpenStack's
upper-constraints (and global-requirements) of each branch kept in constraints/.

    .venv/bin/python -m tools.check_constraints [--python X.Y] [BRANCH ...]

BRANCH is the part after ``upper-constraints-`` of a file in constraints/
(``master``, ``2026.1``); default: every branch there. For each requirement of
setup.cfg (install_requires and the ``test`` extra), the version the branch's
upper-constraints pins must satisfy it and the branch's global-requirements
entry; a requirement the branch does not pin is reported and left to pip.
Exits 1 if any pin is outside a requirement, which is when
``pip install -c upper-constraints.txt .`` cannot resolve.
"""
import argparse
import configparser
import pathlib
import platform
import sys

from packaging import markers
from packaging import requirements
from packaging import utils

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / 'constraints'


def install_requires(setup_cfg=ROOT / 'setup.cfg', extra=None):
    """setup.cfg's ``[options] install_requires`` as Requirement objects, or
    with ``extra`` those of ``[options.extras_require]`` ``extra``."""
    parser = configparser.ConfigParser(inline_comment_prefixes=('#',))
    parser.read(setup_cfg)
    section, key = ('options', 'install_requires') if extra is None else (
        'options.extras_require', extra)
    lines = parser[section][key].splitlines()
    return [requirements.Requirement(line) for line in (x.strip() for x in lines)
            if line and not line.startswith('#')]


def read_requirements(path, environment):
    """``{canonical name: Requirement}`` of a requirements file, the lines whose
    marker holds in ``environment`` (later lines win, as pip reads them)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split(' #', 1)[0].strip()
        if not line or line.startswith('#'):
            continue
        req = requirements.Requirement(line)
        if req.marker is None or req.marker.evaluate(environment):
            found[utils.canonicalize_name(req.name)] = req
    return found


def pinned_version(req):
    """The version an upper-constraints line (``name===1.2.3``) pins."""
    (spec,) = req.specifier
    return spec.version


def check_branch(branch, reqs, environment, directory=CONSTRAINTS):
    """``(problems, notes)``: lines about ``reqs`` within the branch's files."""
    upper = read_requirements(directory / ('upper-constraints-%s.txt' % branch), environment)
    global_path = directory / ('global-requirements-%s.txt' % branch)
    global_reqs = read_requirements(global_path, environment) if global_path.exists() else {}
    problems, notes = [], []
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        name = utils.canonicalize_name(req.name)
        if global_reqs and name not in global_reqs:
            notes.append('%s: not in global-requirements' % req)
        if name not in upper:
            notes.append('%s: not in upper-constraints (pip picks the newest that fits)' % req)
            continue
        pin = pinned_version(upper[name])
        if not req.specifier.contains(pin, prereleases=True):
            problems.append('%s: upper-constraints pins %s' % (req, pin))
        if name in global_reqs and not global_reqs[name].specifier.contains(pin, prereleases=True):
            problems.append('%s: global-requirements (%s) excludes the pin %s'
                            % (req, global_reqs[name].specifier, pin))
    return problems, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--python', default=platform.python_version(),
                        help='Python version the markers are evaluated for '
                             '(default: this interpreter, %(default)s)')
    parser.add_argument('branches', nargs='*', metavar='BRANCH')
    args = parser.parse_args(argv)
    branches = args.branches or sorted(
        p.name[len('upper-constraints-'):-len('.txt')]
        for p in CONSTRAINTS.glob('upper-constraints-*.txt'))
    environment = dict(markers.default_environment(),
                       python_version='.'.join(args.python.split('.')[:2]),
                       python_full_version=args.python)
    reqs = install_requires() + install_requires(extra='test')
    failed = False
    for branch in branches:
        problems, notes = check_branch(branch, reqs, environment)
        print('%s (Python %s): %s' % (branch, args.python,
                                       'FAILS' if problems else 'resolves'))
        for line in problems:
            print('  outside: ' + line)
        for line in notes:
            print('  note: ' + line)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
