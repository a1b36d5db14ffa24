"""Stand-in for devstack's iniset/iniset_multiline/iniget_multiline/inidelete
(inc/ini-config) in the devstack plugin's tests: line-based, so multi-valued
options stay several ``option = value`` lines, as oslo.config reads them.
(tools/check-devstack.sh runs the plugin with devstack's own functions.)

    devstack_ini.py set FILE SECTION OPTION VALUE [VALUE...]
    devstack_ini.py get FILE SECTION OPTION
    devstack_ini.py del FILE SECTION OPTION
"""
import re
import sys


def _parse(lines):
    """``[(section, line)]``; lines before any section header have section None."""
    section, out = None, []
    for line in lines:
        match = re.match(r'\s*\[([^]]+)\]\s*$', line)
        if match:
            section = match.group(1)
        out.append((section, line))
    return out


def _is_option(line, option):
    return re.match(r'\s*%s\s*=' % re.escape(option), line) is not None


def get(path, section, option):
    with open(path) as f:
        parsed = _parse(f.read().splitlines())
    return [line.split('=', 1)[1].strip() for sec, line in parsed
            if sec == section and _is_option(line, option)]


def _without(path, section, option):
    try:
        with open(path) as f:
            parsed = _parse(f.read().splitlines())
    except FileNotFoundError:
        parsed = []
    return [(sec, line) for sec, line in parsed
            if not (sec == section and _is_option(line, option))]


def delete(path, section, option):
    lines = [line for _sec, line in _without(path, section, option)]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def set_(path, section, option, values):
    kept = _without(path, section, option)
    new = ['%s = %s' % (option, v) for v in values]
    headers = [i for i, (sec, line) in enumerate(kept)
               if sec == section and line.strip().startswith('[')]
    lines = [line for _sec, line in kept]
    if headers:
        lines[headers[0] + 1:headers[0] + 1] = new
    else:
        lines += ['[%s]' % section] + new
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    verb, path, section, option, *values = sys.argv[1:]
    if verb == 'get':
        print(' '.join(get(path, section, option)))
    elif verb == 'del':
        delete(path, section, option)
    else:
        set_(path, section, option, values)
