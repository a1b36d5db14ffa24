import io

from nvs_notif.cli import main
from nvs_notif import replay
from nvs_notif import simulate
from nvs_notif import storage


def test_report_shows_every_section_for_a_replayed_cloud(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'nvs.db')
    replay.replay((s.to_message() for s in simulate.simulate(3000, seed=4)),
                  replay.local_endpoint(url))
    store = storage.get_store(url)
    spans = store.spans()
    store.close()
    most = max(s.attempts for s in spans if s.request_id)

    app = main.NvsNotifApp()
    app.stdout = out = io.StringIO()
    assert app.run(['--store', url, 'report', '--top', '3']) == 0
    text = out.getvalue()
    for heading in ('Service levels', 'Top errors', 'Stuck requests as of', 'Trace of req-'):
        assert heading in text
    assert '%d attempts on' % most in text
    assert 'compute.instance.create' in text


def test_report_on_an_empty_store_says_so(tmp_path):
    app = main.NvsNotifApp()
    app.stdout = out = io.StringIO()
    assert app.run(['--store', 'sqlite:///%s' % (tmp_path / 'e.db'), 'report']) == 0
    assert 'no spans yet' in out.getvalue()
