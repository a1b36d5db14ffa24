"""The ``nvs-notif`` commands check their arguments while parsing: a bad value or a
missing combination is argparse's usage error (status 2, the argument named), before any
store is opened."""
import importlib.metadata
import io
import subprocess
import sys

import pytest

from nvs_notif.cli import main


def _run(*argv):
    app = main.NvsNotifApp()
    app.stdout = io.StringIO()
    app.stderr = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        app.run(list(argv))
    return exit_.value.code


@pytest.mark.parametrize('argv, message', [
    (['errors', '--since', 'yesterday'], 'argument --since: not an ISO time nor an age'),
    (['sla', '--until', 'soon'], 'argument --until: not an ISO time'),
    (['stuck', '--now', 'x'], 'argument --now: not an ISO time'),
    (['history'], 'give --project, --user or --resource'),
    (['history', '--project', 'p', '--limit', '0'], 'argument --limit: not a whole number'),
    (['replay'], 'give FILE arguments or --simulate N'),
    (['replay', '--simulate', '-5'], 'argument --simulate: not a whole number'),
    (['trace', 'req-1', '--raw', '--now', '1h'], 'not allowed with argument --raw'),
    (['sla', '--group-by', 'host', '--breakdown', 'x'], 'not allowed with argument'),
    (['sla', '--group-by', 'planet'], "argument --group-by: invalid choice: 'planet'"),
    (['hosts', '--silent-after', 'forever'], 'argument --silent-after: not a duration'),
    (['hosts', '--since', '2099-01-01T00:00:00Z'], 'is after --now'),
    (['watch', '--interval', '0'], 'argument --interval: not a number of seconds'),
    (['report', '--top', 'many'], 'argument --top: not a whole number'),
    (['kibana-import', '--kibana', 'http://k', '--user', 'nopass'], 'not USER:PASSWORD'),
])
def test_bad_arguments_are_usage_errors(tmp_path, capsys, argv, message):
    # A store that does not exist: nothing may be opened before the arguments are right.
    store = tmp_path / 'absent' / 'nvs.db'
    assert _run('--store', 'sqlite:///%s' % store, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and ' %s: error: ' % argv[0] in err and err.startswith('usage: ')
    assert not store.parent.exists()


def test_drain_needs_a_transport(monkeypatch, capsys):
    monkeypatch.delenv('NVS_NOTIF_TRANSPORT_URL', raising=False)
    assert _run('drain', 'dlq') == 2
    assert 'give --transport-url' in capsys.readouterr().err


def test_version_is_the_package_version(capsys):
    assert _run('--version') == 0
    assert capsys.readouterr().out.split()[-1] == importlib.metadata.version('nvs-notif')


def test_now_is_defined_once():
    """Every command with --now gets it from common.add_now: one wording, one type."""
    from nvs_notif.cli import common
    app = main.NvsNotifApp()
    for name in ('hosts', 'report', 'stuck', 'trace'):
        cmd_class = app.command_manager.find_command([name])[0]
        parser = cmd_class(app, None).get_parser('nvs-notif ' + name)
        now = next(a for a in parser._actions if '--now' in a.option_strings)
        assert now.type is common.time_arg and now.help.startswith('ISO time '), name


def test_query_commands_do_not_import_the_agents_libraries(tmp_path):
    # What only replay and drain need (ceilometer, oslo.messaging, kombu:
    # seconds) waits for them; a command imports no other command's module.
    code = ('import sys\nfrom nvs_notif.cli import main\n'
            'main.main(["--store", "sqlite:///%s", "stuck", "-f", "value"])\n'
            'print(sorted({"ceilometer", "oslo_messaging", "kombu"} & set(sys.modules)))\n'
            'print(sorted(m for m in sys.modules if m.startswith("nvs_notif.cli.")))'
            % (tmp_path / 'nvs.db'))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-2:] == [
        '[]', "['nvs_notif.cli.common', 'nvs_notif.cli.main', 'nvs_notif.cli.stuck']"]


def test_help_imports_neither_configuration_nor_store():
    """``--help`` lists every command (their modules are imported), and no more."""
    code = ('import sys\nfrom nvs_notif.cli import main\n'
            'try:\n    main.main(["--help"])\nexcept SystemExit:\n    pass\n'
            'print(sorted(m for m in sys.modules if m.startswith(('
            '"oslo_config", "nvs_notif.storage", "nvs_notif.simulate", "ceilometer"))))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == '[]'


def test_every_command_is_a_common_command():
    """cliff's own epilog looks the command's distribution up in every installed
    package's metadata on every run (most of a second); common.Command does not."""
    from nvs_notif.cli import common
    for ep in importlib.metadata.entry_points(group='nvs_notif.cli'):
        assert issubclass(ep.load(), common.Command), ep.name
