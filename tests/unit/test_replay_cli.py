import io

from nvs_notif.cli import main


class _Tty(io.StringIO):
    def isatty(self):
        return True


def _run(tmp_path, stderr):
    app = main.NvsNotifApp()
    app.stdout, app.stderr = io.StringIO(), stderr
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    assert app.run(['--store', url, 'replay', '--simulate', '1200', '--batch-size', '500']) == 0
    return app.stdout.getvalue()


def test_replay_shows_progress_on_a_terminal(tmp_path):
    err = _Tty()
    out = _run(tmp_path, err)
    assert 'replayed 500 of 1200' in err.getvalue()
    assert 'replayed 1200 of 1200' in err.getvalue()
    assert 'replayed' not in out       # the result table stays clean


def test_replay_is_quiet_when_piped(tmp_path):
    err = io.StringIO()
    out = _run(tmp_path, err)
    assert 'replayed' not in err.getvalue()
    assert '1200' in out
