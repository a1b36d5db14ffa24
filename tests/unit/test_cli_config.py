"""Where the nvs-notif command finds its store and stuck limits."""
import base64
import io
import json

import pytest

from nvs_notif.cli import main
from nvs_notif import replay


def _run(*argv):
    app = main.NvsNotifApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    assert app.run(list(argv)) == 0, app.stderr.getvalue()
    return app


@pytest.fixture
def no_env_store(monkeypatch):
    monkeypatch.delenv('NVS_NOTIF_STORE', raising=False)


def _conf(tmp_path, text):
    path = tmp_path / 'nvs-notif.conf'
    path.write_text(text)
    return str(path)


def _replay_into(*argv):
    return _run(*argv, 'replay', '--simulate', '50').store_url


def test_store_from_the_config_file(tmp_path, no_env_store):
    db = tmp_path / 'from-conf.db'
    conf = _conf(tmp_path, '[cli]\nstore = sqlite:///%s\n' % db)
    assert _replay_into('--config-file', conf) == 'sqlite:///%s' % db
    assert db.exists()


def test_option_then_environment_win_over_the_config_file(tmp_path, monkeypatch):
    conf = _conf(tmp_path, '[cli]\nstore = sqlite:///%s\n' % (tmp_path / 'conf.db'))
    env = 'sqlite:///%s' % (tmp_path / 'env.db')
    monkeypatch.setenv('NVS_NOTIF_STORE', env)
    assert _replay_into('--config-file', conf) == env
    option = 'sqlite:///%s' % (tmp_path / 'option.db')
    assert _replay_into('--config-file', conf, '--store', option) == option
    assert not (tmp_path / 'conf.db').exists()


def test_embedded_default_without_any_setting(tmp_path, no_env_store, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))      # no nvs-notif.conf found
    app = main.NvsNotifApp()
    app.options = app.parser.parse_args([])
    assert app.store_url == main.DEFAULT_STORE


def test_stuck_limits_from_the_config_file(tmp_path, no_env_store):
    db = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    _run('--store', db, 'replay', '--simulate', '2000', '--start', '2024-01-15T08:00:00Z')
    now = ['--now', '2024-01-15T12:00:00Z']

    def stuck(*conf):
        out = _run(*conf, '--store', db, 'stuck', *now, '-f', 'json').stdout.getvalue()
        return {row['limit (s)'] for row in json.loads(out)}

    builtin = stuck()
    assert 600.0 in builtin and builtin <= {600.0, 1800.0, 3600.0}
    conf = _conf(tmp_path, '[nvs]\nstuck_after = 7200\nstuck_after_overrides =\n')
    assert stuck('--config-file', conf) == {7200.0}


def test_store_credentials_from_the_config_file(tmp_path, no_env_store):
    password = 'cli-Pa55-from-conf'
    conf = _conf(tmp_path, '[cli]\nstore = elasticsearch://es1:9200/?credentials=ops\n'
                           '[nvs_store_ops]\nusername = reader\npassword = %s\n' % password)
    app = main.NvsNotifApp()
    app.options = app.parser.parse_args(['--config-file', conf])
    try:
        expected = 'Basic ' + base64.b64encode(('reader:' + password).encode()).decode()
        assert app.store.client._headers['authorization'] == expected
    finally:
        app.clean_up(None, 0, None)


def test_replay_reads_the_credentials_from_the_config_file(tmp_path, no_env_store):
    conf = _conf(tmp_path, '[nvs_store_default]\nusername = writer\npassword = w\n')
    app = main.NvsNotifApp()
    app.options = app.parser.parse_args(['--config-file', conf, '--store',
                                         'elasticsearch://es1:9200/'])
    store = replay.local_store(app.local_endpoint())
    try:
        assert store.credentials.username == 'writer'
    finally:
        store.close()


def test_replay_shows_the_store_without_inline_credentials(tmp_path, no_env_store):
    # A deprecated URL whose "password" SQLite ignores: replay's output hides it.
    url = 'sqlite://ops:Pa55-inline@/%s' % (tmp_path / 'inline.db')
    app = _run('--store', url, 'replay', '--simulate', '20')
    assert 'Pa55-inline' not in app.stdout.getvalue()
    assert str(tmp_path / 'inline.db') in app.stdout.getvalue()
