"""The shipped Kibana saved objects: structure, references, fields, prefix rewrite, import."""
import email.parser
import email.policy
import http.server
import io
import json
import threading

import pytest

from nvs_notif import kibana
from nvs_notif.cli.main import NvsNotifApp
from nvs_notif.storage import elasticsearch as es_store
from nvs_notif.storage import schema
from nvs_notif.storage import search_templates
from tests import saved_objects


@pytest.fixture(scope='module')
def objects():
    return kibana.load()


def test_ndjson_parses_one_object_per_line(objects):
    with open(kibana.DEFAULT_FILE, encoding='utf-8') as f:
        lines = [line for line in f if line.strip()]
    assert len(lines) == len(objects) > 0
    for o in objects:
        assert set(o) >= {'type', 'id', 'attributes', 'references'}
        assert o['type'] in ('index-pattern', 'search', 'visualization', 'dashboard')
        for key in ('searchSourceJSON',):
            meta = o['attributes'].get('kibanaSavedObjectMeta')
            if meta:
                json.loads(meta[key])
        for key in ('visState', 'uiStateJSON', 'panelsJSON', 'optionsJSON'):
            if key in o['attributes']:
                json.loads(o['attributes'][key])


def test_expected_objects(objects):
    titles = {(o['type'], o['attributes']['title']) for o in objects}
    assert {('index-pattern', 'nvs-notifications'), ('index-pattern', 'nvs-spans'),
            ('index-pattern', 'nvs-rejects'), ('search', 'nvs errors'),
            ('search', 'nvs request trace'), ('dashboard', 'nvs health'),
            ('dashboard', 'nvs SLA'), ('dashboard', 'nvs tenant activity')} <= titles
    views = {o['attributes']['title']: o['attributes']['timeFieldName']
             for o in objects if o['type'] == 'index-pattern'}
    # spans: timestamp, set also on failures reported without a start
    assert views == {'nvs-notifications': 'timestamp', 'nvs-spans': 'timestamp',
                     'nvs-rejects': 'received'}
    by_title = {o['attributes']['title']: o for o in objects}
    # error_message: an exception serialised without a class has only its message
    assert by_title['nvs errors']['attributes']['columns'] == [
        'host', 'service', 'event_type', 'error_type', 'error_message', 'request_id']
    trace = by_title['nvs request trace']['attributes']
    assert trace['sort'] == [['timestamp', 'asc']]
    assert trace['columns'] == ['operation', 'service', 'host', 'duration', 'attempts', 'status',
                                'error_type', 'error_message', 'request_id', 'global_request_id']


def test_ids_unique(objects):
    ids = [(o['type'], o['id']) for o in objects]
    assert len(ids) == len(set(ids))
    assert len({o['id'] for o in objects}) == len(objects)


def test_dashboards_have_visualizations(objects):
    for o in objects:
        if o['type'] == 'dashboard':
            types = [r['type'] for r in o['references']]
            assert types.count('visualization') >= 3, o['id']


def _mapped(kind):
    declared = schema.KINDS[kind]
    fields = ({f.name for f in declared.fields + declared.stamped if f.mapped}
              | set(declared.aliases))
    template = search_templates.template_body('nvs', kind, es_store.Engine.flat_type)
    props = template['template']['mappings']['properties']
    assert fields == set(props)
    return fields


def test_referenced_fields_exist_in_the_index_templates(objects):
    by_kind = saved_objects.referenced_fields_by_kind(objects)
    assert set(by_kind) == {'notifications', 'spans', 'rejects'}
    for kind, fields in by_kind.items():
        assert fields, kind
        missing = fields - _mapped(kind)
        assert not missing, (kind, missing)
    union = set().union(*by_kind.values())
    assert saved_objects.referenced_fields(objects) == union
    # Spot checks that the extraction sees each place fields are named.
    assert {'priority', 'status', 'duration', 'attempts', 'global_request_id', 'received',
            'user_id', 'timestamp'} <= union


def test_referenced_fields_sees_ecs_aliases_and_filters():
    objs = kibana.with_prefix(kibana.load(), 'nvs')
    view = objs[0]
    search = {'type': 'search', 'id': 's', 'attributes': {
        'title': 't', 'columns': ['trace.id'], 'sort': [['@timestamp', 'desc']],
        'kibanaSavedObjectMeta': {'searchSourceJSON': json.dumps({
            'query': {'query': 'event.action:x and not error.type:"Y"', 'language': 'kuery'},
            'filter': [{'meta': {'key': 'cloud.project.id'},
                        'query': {'match_phrase': {'cloud.project.id': 'p'}}}]})}},
        'references': []}
    assert saved_objects.referenced_fields([search]) == {
        'trace.id', '@timestamp', 'event.action', 'error.type', 'cloud.project.id'}
    assert view['type'] == 'index-pattern'


def test_with_prefix_rewrites_all_titles(objects):
    moved = kibana.with_prefix(objects, 'acme')
    assert kibana.load() == objects   # not modified in place
    views = sorted(o['attributes']['title'] for o in moved if o['type'] == 'index-pattern')
    assert views == ['acme-notifications', 'acme-rejects', 'acme-spans']
    ids = {o['id'] for o in moved}
    for o in moved:
        assert o['id'].startswith('acme-')
        assert not o['attributes']['title'].startswith('nvs')
        for ref in o['references']:
            assert ref['id'] in ids
        if 'visState' in o['attributes']:
            assert json.loads(o['attributes']['visState'])['title'] == o['attributes']['title']
    assert 'nvs-' not in kibana.dumps([o for o in moved if o['type'] == 'index-pattern'])
    for q in saved_objects.queries(moved):
        assert q['index'] in views
    assert kibana.with_prefix(objects, 'nvs') == objects


def test_queries_cover_every_search_and_visualization(objects):
    qs = saved_objects.queries(objects)
    assert len(qs) == sum(o['type'] in ('search', 'visualization') for o in objects)
    by_title = {q['title']: q for q in qs}
    assert by_title['nvs errors']['query'] == {'bool': {'filter': [
        {'query_string': {'query': 'priority:(error OR critical)', 'analyze_wildcard': True}}]}}
    assert by_title['nvs errors']['index'] == 'nvs-notifications'
    failures = by_title['nvs failures by operation and exception']
    assert {'match_phrase': {'status': 'failure'}} in failures['query']['bool']['filter']
    sla = by_title['nvs SLA by operation']['aggs']['2']
    assert sla['terms']['field'] == 'operation'
    assert sla['aggs']['4'] == {'percentiles': {'field': 'duration', 'percents': [50, 95, 99]}}


class _Recorder(http.server.BaseHTTPRequestHandler):
    received = []
    answer = {'success': True, 'successCount': 19, 'errors': []}

    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        self.received.append((self.path, dict(self.headers), body))
        answer = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def kibana_server():
    _Recorder.received = []
    _Recorder.answer = {'success': True, 'successCount': 19, 'errors': []}
    server = http.server.HTTPServer(('127.0.0.1', 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_port, _Recorder.received
    server.shutdown()
    server.server_close()
    thread.join(5)


def _file_part(headers, body):
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: ' + headers['Content-Type'].encode() + b'\r\n\r\n' + body)
    assert message.is_multipart()
    parts = list(message.iter_parts())
    assert len(parts) == 1
    part = parts[0]
    assert part.get_param('name', header='content-disposition') == 'file'
    assert part.get_filename().endswith('.ndjson')
    return part.get_payload(decode=True).decode('utf-8')


def test_import_objects_posts_multipart_ndjson(objects, kibana_server):
    url, received = kibana_server
    moved = kibana.with_prefix(objects, 'acme')
    result = kibana.import_objects(url + '/', moved, auth=('elastic', 'secret'))
    assert result == {'success': True, 'successCount': 19, 'errors': []}
    (path, headers, body), = received
    assert path == '/api/saved_objects/_import?overwrite=true'
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers['kbn-xsrf'] == 'nvs-notif'
    assert headers['content-type'].startswith('multipart/form-data; boundary=')
    assert headers['authorization'] == 'Basic ZWxhc3RpYzpzZWNyZXQ='
    content = _file_part({'Content-Type': headers['content-type']}, body)
    assert [json.loads(line) for line in content.splitlines()] == moved


def test_import_objects_reports_http_errors():
    server = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:   # BaseHTTPRequestHandler answers 501 to POST
        with pytest.raises(RuntimeError, match='HTTP 501'):
            kibana.import_objects('http://127.0.0.1:%d' % server.server_port, [], overwrite=False)
    finally:
        server.shutdown()
        server.server_close()


def _import(url, tmp_path, *options):
    out, err = io.StringIO(), io.StringIO()
    app = NvsNotifApp()
    app.stdout, app.stderr = out, err
    rc = app.run(['--store', 'sqlite:///%s' % (tmp_path / 'x.db'), 'kibana-import',
                  '--kibana', url, '--index-prefix', 'prod', '-f', 'json'] + list(options))
    return rc, out.getvalue(), err.getvalue()


def test_kibana_import_command(kibana_server, tmp_path):
    url, received = kibana_server
    rc, out, _ = _import(url, tmp_path)
    assert rc == 0
    assert json.loads(out) == {'imported': 19, 'kept (existing)': '-', 'objects': 19}
    (path, headers, body), = received
    content = _file_part(headers, body)
    titles = {json.loads(line)['attributes']['title'] for line in content.splitlines()}
    assert {'prod-notifications', 'prod-spans', 'prod-rejects', 'prod health'} <= titles


def _error(kind, obj_id, title, why, **more):
    return {'type': kind, 'id': obj_id, 'meta': {'title': title},
            'error': dict(type=why, **more)}


def test_kibana_import_names_every_refused_object_and_fails(kibana_server, tmp_path):
    """Kibana answers 200 with success:false and the objects it refused."""
    url, _ = kibana_server
    _Recorder.answer = {'success': False, 'successCount': 17, 'errors': [
        _error('dashboard', 'nvs-health', 'prod health', 'missing_references',
               references=[{'type': 'search', 'id': 'nvs-gone'}]),
        _error('index-pattern', 'nvs-spans', 'prod-spans', 'conflict')]}
    rc, out, err = _import(url, tmp_path)
    assert rc != 0 and out == ''
    assert 'Kibana refused 2 of 19 objects' in err
    assert 'dashboard nvs-health "prod health": missing_references (search nvs-gone)' in err
    assert 'index-pattern nvs-spans "prod-spans": conflict' in err


def test_kibana_import_no_overwrite_keeps_existing_and_imports_the_rest(kibana_server, tmp_path):
    url, received = kibana_server
    _Recorder.answer = {'success': False, 'successCount': 18, 'errors': [
        _error('index-pattern', 'nvs-spans', 'prod-spans', 'conflict')]}
    rc, out, _ = _import(url, tmp_path, '--no-overwrite')
    assert rc == 0
    assert json.loads(out) == {'imported': 18, 'objects': 19,
                               'kept (existing)': 'index-pattern nvs-spans "prod-spans": conflict'}
    assert received[0][0] == '/api/saved_objects/_import?overwrite=false'
    # Anything else than a conflict still fails the command.
    _Recorder.answer['errors'].append(_error('dashboard', 'nvs-health', 'prod health', 'unknown'))
    rc, _, err = _import(url, tmp_path, '--no-overwrite')
    assert rc != 0 and 'Kibana refused 1 of 19 objects: dashboard nvs-health' in err


def test_dashboards_import_command_posts_the_opensearch_dashboards_file(kibana_server, tmp_path):
    url, received = kibana_server
    out, err = io.StringIO(), io.StringIO()
    app = NvsNotifApp()
    app.stdout, app.stderr = out, err
    rc = app.run(['--store', 'sqlite:///%s' % (tmp_path / 'x.db'), 'dashboards-import',
                  '--dashboards', url, '--index-prefix', 'prod', '-f', 'json'])
    assert rc == 0, err.getvalue()
    (path, headers, body), = received
    assert path == '/api/saved_objects/_import?overwrite=true'
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers['osd-xsrf'] == 'true' and 'kbn-xsrf' not in headers
    sent = [json.loads(line) for line in _file_part(headers | {'Content-Type':
                                                             headers['content-type']},
                                                  body).splitlines()]
    assert sent == kibana.with_prefix(kibana.load(kibana.OPENSEARCH_DASHBOARDS.file), 'prod')
    assert not any('coreMigrationVersion' in o or 'typeMigrationVersion' in o for o in sent)
    _Recorder.answer = {'success': False, 'successCount': 18, 'errors': [
        _error('dashboard', 'prod-dashboard-health', 'prod health', 'unknown')]}
    rc = app.run(['--store', 'sqlite:///%s' % (tmp_path / 'x.db'), 'dashboards-import',
                  '--dashboards', url])
    assert rc != 0 and 'OpenSearch Dashboards refused 1 of 19 objects' in err.getvalue()
