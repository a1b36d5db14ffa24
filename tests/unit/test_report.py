import io
import json

from nvs_notif.cli import main
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import storage


def _report(url, *args):
    app = main.NvsNotifApp()
    app.stdout = out = io.StringIO()
    app.stderr = err = io.StringIO()
    assert app.run(['--store', url, 'report'] + list(args)) == 0
    return out.getvalue(), err.getvalue()


def test_report_shows_every_section_for_a_replayed_cloud(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    replay.replay((s.to_message() for s in simulate.simulate(3000, seed=4)),
                  replay.local_endpoint(url))
    store = storage.get_store(url)
    spans = store.spans()
    store.close()
    most = max(s.attempts for s in spans if s.request_id)

    text, _ = _report(url, '--top', '3')
    for field in ('service levels', 'top errors', 'stuck requests', 'sample request',
                  'sample trace'):
        assert '| ' + field in text
    assert '%d attempts on' % most in text
    assert 'compute.instance.create' in text

    # The same answer as data: every formatter works.
    data = json.loads(_report(url, '--top', '3', '-f', 'json')[0])
    assert len(data['top errors']) == 3
    assert {row['source'] for row in data['top errors']} <= {'span', 'notification'}
    creates = [r for r in data['service levels'] if r['operation'] == 'compute.instance.create']
    assert creates and creates[0]['count'] > 0
    assert data['sample request'].startswith('req-')
    assert data['sample trace'][0]['step']
    assert data['now'].startswith('2024-01-15T')


def test_report_on_an_empty_store_says_so(tmp_path):
    out, err = _report('sqlite:///%s' % (tmp_path / 'e.db'), '-f', 'json')
    assert 'no spans yet' in err
    data = json.loads(out)
    assert data['now'] is None and data['service levels'] == [] and data['sample trace'] == []
