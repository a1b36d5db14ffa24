"""Every path into a store masks what the operator's ``[nvs] redact_keys`` names.

The paths: the nvs endpoint (the agent's, and the one replay and drain run),
``nvs-notif replay`` and ``nvs-notif drain`` given ``--config-file``, their
rejects, and the stock pipelines' events and samples through the publisher.
Each writes a SQLite file; the operator's secret must be in no byte of it
(WAL included), while what carried it is stored.  The real agent is proven in
tests/functional/test_secrets.py.
"""
import datetime
import io
import json
import sqlite3
import urllib.parse

from ceilometer.event import models as event_models
from ceilometer import sample as sample_mod
import kombu
import pytest

from nvs_notif.cli import main
from nvs_notif import drain
from nvs_notif import publisher
from nvs_notif import replay
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_layout

KEY = 'customer_ssn'
SECRET = 'SSN-078-05-1120-operator-only'


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / 'nvs-notif.conf'
    path.write_text('[nvs]\nredact_keys = %s\n' % KEY)
    return str(path)


def message(n, **extra):
    msg = {'message_id': 'm-%d' % n, 'event_type': 'compute.instance.update',
           'publisher_id': 'compute.host-1', 'priority': 'INFO',
           'timestamp': '2024-06-03 08:00:00.000000', '_context_request_id': 'req-%d' % n,
           'payload': {'instance_id': 'i-%d' % n, KEY: SECRET,
                       'metadata': {'billing': {KEY.upper(): SECRET}}}}
    msg.update(extra)
    return msg


def wire(msg):
    return json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps(msg)})


def assert_kept_and_masked(db, table, count):
    kind = schema.KINDS[table]
    con = sqlite3.connect(db)
    try:
        # The documents as read back: payloads are deflated in the file.
        docs = [sqlite_layout.document(kind, row) for row in sqlite_layout.with_rests(
            con, kind, con.execute('SELECT %s FROM %s' % (sqlite_layout.select_sql(kind),
                                                          table)).fetchall())]
    finally:
        con.close()
    assert len(docs) == count
    assert SECRET not in json.dumps(docs)
    for path in db.parent.glob(db.name + '*'):          # the file, its WAL and shm
        assert SECRET.encode() not in path.read_bytes(), path


def run(*argv):
    app = main.NvsNotifApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    assert app.run(list(argv)) == 0, app.stderr.getvalue()


def test_endpoint_uses_the_operators_keys(tmp_path, config_file):
    db = tmp_path / 'nvs.db'
    endpoint = replay.local_endpoint('sqlite:///%s' % db, replay.make_conf([config_file]))
    replay.process(endpoint, [message(1), message(2, priority=None)])     # one reject
    replay.local_store(endpoint).close()
    assert_kept_and_masked(db, 'notifications', 1)
    assert_kept_and_masked(db, 'rejects', 1)


def test_replay_command_uses_the_config_file(tmp_path, config_file):
    db = tmp_path / 'nvs.db'
    lines = tmp_path / 'in.jsonl'
    lines.write_text('\n'.join([wire(message(1)), json.dumps(message(2)),
                                json.dumps(message(3, priority=7))]) + '\n')
    run('--config-file', config_file, '--store', 'sqlite:///%s' % db, 'replay', str(lines))
    assert_kept_and_masked(db, 'notifications', 2)
    assert_kept_and_masked(db, 'rejects', 1)


def test_drain_command_uses_the_config_file(tmp_path, config_file, monkeypatch):
    db = tmp_path / 'nvs.db'
    # kombu's in-memory broker in place of RabbitMQ (tests/functional/test_dead_letters.py
    # drains a real one); the queues of the memory transport are process-wide.
    monkeypatch.setattr(drain, 'kombu_url', lambda url: 'memory://')
    with kombu.Connection('memory://') as conn:
        channel = conn.channel()
        kombu.Queue('nvs-dead-letters', channel=channel).declare()
        producer = kombu.Producer(channel)
        for body in (wire(message(1)), wire(message(2, priority=[]))):
            producer.publish(body, routing_key='nvs-dead-letters')
        run('--config-file', config_file, '--store', 'sqlite:///%s' % db,
            'drain', 'nvs-dead-letters', '--transport-url', 'rabbit://broker')
    assert_kept_and_masked(db, 'notifications', 1)
    assert_kept_and_masked(db, 'rejects', 1)


def test_stock_pipelines_events_and_samples_use_the_operators_keys(tmp_path, config_file):
    db = tmp_path / 'nvs.db'
    conf = replay.make_conf([config_file])
    pub = publisher.StorePublisher(conf, urllib.parse.urlsplit('sqlite:///%s' % db))
    now = datetime.datetime(2024, 6, 3, 8, 0, tzinfo=datetime.timezone.utc)
    pub.publish_events([event_models.Event(
        'e-1', 'compute.instance.update', now,
        [event_models.Trait(KEY, event_models.Trait.TEXT_TYPE, SECRET)], {})])
    pub.publish_samples([sample_mod.Sample(
        'cpu', sample_mod.TYPE_CUMULATIVE, 'ns', 1, 'u-1', 'p-1', 'i-1', now.isoformat(),
        resource_metadata={KEY: SECRET})])
    pub.store.close()
    assert_kept_and_masked(db, 'events', 1)
    assert_kept_and_masked(db, 'samples', 1)
