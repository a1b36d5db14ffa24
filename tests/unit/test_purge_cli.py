"""nvs-notif purge refuses ages that would remove everything or crash."""
import io

import pytest

from nvs_notif.cli import main


@pytest.mark.parametrize('age', ['-1', '0', 'inf', 'nan', '1e9', 'ten'])
def test_purge_refuses_absurd_ages(tmp_path, age, capsys):
    db = tmp_path / 'nvs.db'
    app = main.NvsNotifApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:       # argparse's usage error
        app.run(['--store', 'sqlite:///%s' % db, 'purge', '--older-than', age])
    assert exit_.value.code == 2
    assert 'not an age in days' in capsys.readouterr().err
    assert not db.exists()          # refused before the store was even opened


def test_purge_takes_a_positive_age(tmp_path):
    app = main.NvsNotifApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    assert app.run(['--store', url, 'purge', '--older-than', '30']) == 0
    assert 'notifications' in app.stdout.getvalue()
