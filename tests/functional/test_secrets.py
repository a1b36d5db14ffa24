"""Secrets never reach the stores or the agent's log.

Notifications carry passwords, tokens and keys in every place OpenStack
services have put them: the request context (``_context_auth_token`` of
services whose serializer does not redact, v1 and v2 envelopes), nova's
rebuild ``admin_password`` and ``adminPass`` metadata, fault messages and
tracebacks quoting headers or dicts, cinder's CHAP ``connection_info``,
glance's swift location URLs, keystone's CADF initiator credential,
application credential secrets and user passwords, heat's hidden stack
parameters, neutron-vpnaas pre-shared keys, ironic's IPMI password, trove's
database users, transport URLs of nova cells, header lists, JSON embedded in
strings, and one key only the operator's ``redact_keys`` names.  The agent
runs with ``debug = true`` and publishes to Elasticsearch and SQLite at once;
afterwards every document of every index, the SQLite files (WAL included)
and the log are searched for the secrets' common marker.
"""
import json
import pathlib
import uuid

from nvs_notif import storage
from tests.functional.support import es_count, scan_sources, store_url, wait_for
from tests.functional.wire import WirePublisher

MARKER = 'S3CR3T'
#: An operator's own secret key, named in [nvs] redact_keys.
OPERATOR_KEY = 'vnc_console_pin'


def _secret(name):
    return '%s-%s-%s' % (MARKER, name, uuid.uuid4().hex[:8])


def _notifier_cases(req):
    """(exchange, publisher_id, priority, event_type, payload) sent with oslo's Notifier."""
    fault_msg = ('Unauthorized: Authorization: Bearer %s; retried with password=%s'
                 % (_secret('bearer'), _secret('inline')))
    traceback = ("Traceback (most recent call last):\n  ... keystoneauth1 request headers "
                 "{'X-Auth-Token': '%s', 'Accept': 'application/json'}\n" % _secret('tb'))
    return [
        ('nova', 'compute.host-1', 'INFO', 'compute.instance.rebuild.start',
         {'instance_id': 'inst-' + req, 'admin_password': _secret('admin-password'),
          'metadata': {'adminPass': _secret('admin-pass')}, 'image_ref_url': 'http://glance/x'}),
        ('nova', 'compute.host-1', 'ERROR', 'compute.instance.create.error',
         {'instance_id': 'inst-' + req, 'message': fault_msg, 'code': 500,
          'exception': 'Unauthorized'}),
        ('nova', 'nova-compute:host-1', 'ERROR', 'instance.create.error',
         {'nova_object.name': 'InstanceCreatePayload', 'nova_object.version': '1.12',
          'nova_object.namespace': 'nova',
          'nova_object.data': {
              'uuid': 'inst-' + req, 'state': 'error',
              'fault': {'nova_object.name': 'ExceptionPayload', 'nova_object.version': '1.1',
                        'nova_object.namespace': 'nova',
                        'nova_object.data': {'exception': 'Unauthorized',
                                             'exception_message': fault_msg,
                                             'function_name': '_build', 'module_name': 'm',
                                             'traceback': traceback}}}}),
        ('cinder', 'volume.cinder-1', 'INFO', 'volume.attach.end',
         {'volume_id': 'vol-' + req, 'status': 'in-use',
          'connection_info': {'driver_volume_type': 'iscsi', 'data': {
              'auth_method': 'CHAP', 'auth_username': 'chap-user',
              'auth_password': _secret('chap'), 'target_iqn': 'iqn.2010-10.org:vol'}}}),
        ('glance', 'image.localhost', 'INFO', 'image.upload',
         {'id': 'img-' + req, 'status': 'active',
          'location': 'swift+https://tenant:glance:%s@keystone:5000/v3/c/img' % _secret('swift')}),
        ('keystone', 'identity.keystone-1', 'INFO', 'identity.authenticate',
         {'typeURI': 'http://schemas.dmtf.org/cloud/audit/1.0/event', 'action': 'authenticate',
          'eventType': 'activity', 'outcome': 'success', 'id': 'cadf-' + req,
          'initiator': {'typeURI': 'service/security/account/user', 'id': 'u-1',
                        'credential': {'type': 'token', 'token': _secret('cadf-token'),
                                       'identity_status': 'Confirmed'}},
          'target': {'typeURI': 'service/security/account/user', 'id': 'u-1'},
          'observer': {'typeURI': 'service/security', 'id': 'openstack:keystone'}}),
        ('keystone', 'identity.keystone-1', 'INFO', 'identity.application_credential.created',
         {'resource_info': 'appcred-' + req, 'secret': _secret('appcred')}),
        ('keystone', 'identity.keystone-1', 'INFO', 'identity.user.updated',
         {'resource_info': 'user-' + req, 'password': _secret('user-password'),
          'original_password': _secret('original-password')}),
        ('heat', 'orchestration.heat-1', 'INFO', 'orchestration.stack.create.end',
         {'stack_identity': 'stack-' + req, 'state': 'CREATE_COMPLETE',
          'parameters': {'db_password': _secret('heat-db'), 'DBRootPassword': _secret('heat-root'),
                         'flavor': 'm1.small'}}),
        ('neutron', 'network.neutron-1', 'INFO', 'ipsec_site_connection.create.end',
         {'ipsec_site_connection': {'id': 'ipsec-' + req, 'psk': _secret('psk'),
                                    'peer_address': '203.0.113.7'}}),
        ('ironic', 'ironic-conductor.cond-1', 'INFO', 'baremetal.node.update.end',
         {'uuid': 'node-' + req, 'driver_info': {'ipmi_username': 'admin',
                                                 'ipmi_password': _secret('ipmi')}}),
        ('trove', 'taskmanager.trove-1', 'INFO', 'trove.instance.create',
         {'instance_id': 'db-' + req, 'users': [{'name': 'app',
                                                 'password': _secret('trove-user')}]}),
        ('nova', 'nova-conductor:ctl-1', 'INFO', 'cell_mapping.update',
         {'uuid': 'cell-' + req, 'transport_url': 'rabbit://nova:%s@ctl1:5672,nova:%s@ctl2:5672/'
          % (_secret('rabbit-1'), _secret('rabbit-2'))}),
        ('nova', 'compute.host-2', 'INFO', 'compute.instance.update',
         {'instance_id': 'inst-' + req,
          'request_headers': [['X-Auth-Token', _secret('header-list')], ['Accept', 'json']],
          'X-Subject-Token': _secret('subject-token'),
          'user_data_json': json.dumps({'os_password': _secret('embedded-json')}),
          'deep': [{'level': [{'list': [{'api_key': _secret('deep')}]}]}],
          OPERATOR_KEY: _secret('operator-key')}),
    ]


def _wire_bodies(req):
    """(priority, body, stored) of raw wire messages carrying context tokens."""
    legacy_v1 = {'message_id': 'v1-' + req, 'publisher_id': 'compute.host-3',
                 'event_type': 'compute.instance.delete.start', 'priority': 'INFO',
                 'timestamp': '2026-11-21 10:00:00.000000',
                 'payload': {'instance_id': 'inst-' + req},
                 '_context_request_id': req, '_context_auth_token': _secret('v1-context'),
                 '_context_auth_token_info': {'token': {'catalog': []}},
                 '_context_password': _secret('v1-context-password')}
    inner = dict(legacy_v1, message_id='v2-' + req,
                 _context_auth_token=_secret('v2-context'))
    # No event_type: rejected, and the dead-letter copy must be masked too.
    rejected = dict(inner, message_id='bad-' + req, payload={'password': _secret('reject')},
                    _context_auth_token=_secret('reject-context'))
    del rejected['event_type']
    envelope = lambda m: {'oslo.version': '2.0', 'oslo.message': json.dumps(m)}  # noqa: E731
    return [('info', json.dumps(legacy_v1), True),
            ('info', json.dumps(envelope(inner)), True),
            ('info', json.dumps(envelope(rejected)), False)]


def _files_text(sqlite_path):
    """The SQLite database and its WAL/shared-memory files, as text."""
    return ''.join(p.read_bytes().decode('utf-8', 'replace')
                   for p in sorted(sqlite_path.parent.glob(sqlite_path.name + '*')))


def test_no_secret_reaches_the_stores_or_the_log(agent_factory, sender, topic, engine,
                                                 search_client, es_prefix, tmp_path):
    sqlite_path = tmp_path / 'secrets.db'
    agent = agent_factory([store_url(engine, es_prefix), 'sqlite:///%s' % sqlite_path],
                          batch_size=5,
                          extra_conf='redact_keys = %s\n[DEFAULT]\ndebug = true\n' % OPERATOR_KEY)
    req = 'req-%s' % uuid.uuid4()
    ctxt = {'request_id': req, 'project_id': 'p-secrets', 'user_id': 'u-secrets',
            'auth_token': _secret('notifier-context')}
    cases = _notifier_cases(req)
    for exchange, publisher_id, priority, event_type, payload in cases:
        sender.send(exchange, publisher_id, priority, event_type, payload, ctxt)
    bodies = _wire_bodies(req)
    wire = WirePublisher(topic)
    try:
        for priority, body, _ in bodies:
            wire.publish(body.encode(), priority)
    finally:
        wire.close()

    stored = len(cases) + sum(s for _, _, s in bodies)
    rejected = sum(not s for _, _, s in bodies)
    notifications = '%s-notifications' % es_prefix
    wait_for(lambda: (es_count(search_client, notifications) >= stored
                      and es_count(search_client, '%s-rejects' % es_prefix) >= rejected),
             timeout=120, what='%d notifications and %d reject in %s' % (stored, rejected, engine))
    agent.stop()    # SQLite files complete and closed; the log final

    assert es_count(search_client, notifications) == stored
    search_client.indices.refresh(index='%s-*' % es_prefix)
    documents = json.dumps(scan_sources(search_client, '%s-*' % es_prefix))
    store = storage.get_store('sqlite:///%s' % sqlite_path)
    try:
        assert store.count('notifications') == stored
        assert store.count('rejects') == rejected
        # The documents as read back too: payloads are deflated in the file.
        read_back = json.dumps(list(store.notifications()), ensure_ascii=False)
    finally:
        store.close()
    files = _files_text(pathlib.Path(sqlite_path)) + read_back
    log = agent.log_text()
    # The documents are there (the search below is not vacuous) ...
    for text in (documents, files):
        assert 'inst-' + req in text and 'ipsec-' + req in text and 'bad-' + req in text
    assert 'DEBUG' in log
    # ... and not one secret is.
    for where, text in (('Elasticsearch', documents), ('SQLite', files), ('agent log', log)):
        leaks = sorted({text[max(i - 40, 0):i + 40] for i in _find_all(text, MARKER)})
        assert not leaks, '%s holds secrets: %s' % (where, leaks)


def _find_all(text, needle):
    i = text.find(needle)
    while i != -1:
        yield i
        i = text.find(needle, i + 1)
