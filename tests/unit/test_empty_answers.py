"""The demo's cloud ends when it is replayed, and an empty answer says why."""
import io
import json

from nvs_notif.cli import main


def _run(*argv):
    app = main.NvsNotifApp()
    app.stdout = io.StringIO()
    app.stderr = io.StringIO()
    assert app.run(list(argv)) == 0
    return app.stdout.getvalue(), app.stderr.getvalue()


def test_a_simulated_replay_ends_now_so_the_last_hour_has_answers(tmp_path):
    db = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    _run('--store', db, 'replay', '--simulate', '600')
    out, err = _run('--store', db, 'hosts', '-f', 'json')
    assert json.loads(out) and not err
    out, _ = _run('--store', db, 'errors', '--since', '1h', '-f', 'json')
    assert json.loads(out)


def test_empty_answers_name_the_window_and_the_newest_notification(tmp_path):
    db = 'sqlite:///%s' % (tmp_path / 'old.db')
    _run('--store', db, 'replay', '--simulate', '300', '--start', '2024-01-15T08:00:00Z')
    for argv, asked in ((['hosts'], 'no notifications between '),
                        (['errors', '--since', '2h'], 'no errors since '),
                        (['sla', '--since', '1d'], 'no span started since '),
                        (['history', '--project', 'nobody'], 'no notifications of project '
                                                             'nobody at any time'),
                        (['trace', 'req-none'], 'no span of request req-none'),
                        (['stuck', '--now', '2024-01-15T08:00:00Z'],
                         'no request open past its limit as of 2024-01-15T08:00:00+00:00')):
        out, err = _run('--store', db, *argv, '-f', 'json')
        assert json.loads(out) == []
        assert asked in err, (argv, err)
        assert 'the newest notification in the store is of 2024-01-15T08:0' in err, err


def test_an_empty_store_says_it_is_empty(tmp_path):
    _, err = _run('--store', 'sqlite:///%s' % (tmp_path / 'e.db'), 'hosts')
    assert err.endswith('; the store holds no notifications\n')
