"""The Kibana saved objects shipped in the package (``nvs_notif/data/kibana/nvs-notif.ndjson``).

Pure functions to read them, rewrite them for another index prefix, list the
fields and the Elasticsearch queries they imply (so tests can check them
against the index templates and a real cluster), and post them to Kibana's
saved objects import API.
"""
import base64
import copy
import importlib.resources
import json
import re
import urllib.error
import urllib.request
import uuid

DEFAULT_PREFIX = 'nvs'
#: Package data, where every kind of install puts it (read as a file: wheels install
#: unpacked).
DEFAULT_FILE = str(importlib.resources.files('nvs_notif') / 'data' / 'kibana' / 'nvs-notif.ndjson')
KINDS = ('notifications', 'spans', 'rejects')
#: The key Kibana gives documents without the field (a terms aggregation's missingBucket).
MISSING_BUCKET = '__missing__'


def load(path=DEFAULT_FILE):
    """The saved objects of an ndjson export file, as a list of dicts."""
    objects = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                objects.append(json.loads(line))
    return objects


def dumps(objects):
    """The ndjson text of ``objects`` (one object per line)."""
    return ''.join(json.dumps(o, sort_keys=True) + '\n' for o in objects)


def _re_prefix(text, old, new, sep):
    if isinstance(text, str) and text.startswith(old + sep):
        return new + text[len(old):]
    return text


def with_prefix(objects, prefix, old=DEFAULT_PREFIX):
    """Copies of ``objects`` for the index prefix ``prefix``.

    Data view titles ``<old>-<kind>`` become ``<prefix>-<kind>``; ids (and the
    references to them) and ``<old> ...`` titles are renamed as well, so the
    objects of several prefixes can live in one Kibana space.
    """
    result = []
    for o in copy.deepcopy(list(objects)):
        o['id'] = _re_prefix(o['id'], old, prefix, '-')
        for ref in o.get('references', ()):
            ref['id'] = _re_prefix(ref['id'], old, prefix, '-')
        attrs = o.get('attributes', {})
        if o['type'] == 'index-pattern':
            attrs['title'] = _re_prefix(attrs['title'], old, prefix, '-')
            if 'name' in attrs:
                attrs['name'] = _re_prefix(attrs['name'], old, prefix, ' ')
        else:
            attrs['title'] = _re_prefix(attrs.get('title'), old, prefix, ' ')
            if 'visState' in attrs:
                vis_state = json.loads(attrs['visState'])
                vis_state['title'] = attrs['title']
                attrs['visState'] = json.dumps(vis_state, sort_keys=True)
        result.append(o)
    return result


def _search_source(o):
    meta = o.get('attributes', {}).get('kibanaSavedObjectMeta', {})
    return json.loads(meta.get('searchSourceJSON') or '{}')


def _by_id(objects):
    return {(o['type'], o['id']): o for o in objects}


def index_title(obj, objects):
    """The data view title (index or alias) a search or visualization reads."""
    source = _search_source(obj)
    ref_name = source.get('indexRefName')
    for ref in obj.get('references', ()):
        if ref['name'] == ref_name and ref['type'] == 'index-pattern':
            view = _by_id(objects).get(('index-pattern', ref['id']))
            return view['attributes']['title'] if view else None
    return None


def kind_of(title):
    """``notifications`` for ``<prefix>-notifications`` etc.; None if unknown."""
    for kind in KINDS:
        if title and title.endswith('-' + kind):
            return kind
    return None


# field:value, field:(a or b), field:"x", field:* ; a field name may be dotted or @-prefixed.
_QUERY_FIELD = re.compile(r'(?<![\w.@])(@?[A-Za-z_][\w.]*)\s*:')


def query_fields(query):
    """Field names used in a KQL or Lucene query string."""
    return set(_QUERY_FIELD.findall(query or ''))


def _kuery_to_lucene(query):
    # The KQL the shipped objects use (field:value, field:(a or b), not, and, or, field:*)
    # is Lucene once its boolean operators are upper case.
    return re.sub(r'\b(and|or|not)\b', lambda m: m.group(1).upper(), query)


def _vis_state(o):
    return json.loads(o['attributes']['visState']) if o['type'] == 'visualization' else None


def _fields_of(o, objects):
    fields = set()
    attrs = o.get('attributes', {})
    if o['type'] == 'index-pattern':
        if attrs.get('timeFieldName'):
            fields.add(attrs['timeFieldName'])
        return fields
    source = _search_source(o)
    fields |= query_fields(source.get('query', {}).get('query'))
    for f in source.get('filter', ()):
        if f.get('meta', {}).get('key'):
            fields.add(f['meta']['key'])
        for clause in f.get('query', {}).values():
            if isinstance(clause, dict):
                fields.update(clause)
    fields.update(attrs.get('columns', ()))
    fields.update(s[0] for s in attrs.get('sort', ()))
    vis_state = _vis_state(o)
    if vis_state:
        for a in vis_state.get('aggs', ()):
            if a.get('params', {}).get('field'):
                fields.add(a['params']['field'])
    return fields


def referenced_fields(objects):
    """Every field name the objects reference (columns, sort, aggregation and query fields)."""
    fields = set()
    for o in objects:
        fields |= _fields_of(o, objects)
    return fields


def referenced_fields_by_kind(objects):
    """``{kind: fields}``: the fields each object references, under the kind of index it reads."""
    result = {}
    for o in objects:
        if o['type'] == 'dashboard':
            continue
        title = o['attributes']['title'] if o['type'] == 'index-pattern' else index_title(o, objects)
        result.setdefault(kind_of(title), set()).update(_fields_of(o, objects))
    return result


def _es_query(source):
    bool_ = {'filter': [], 'must_not': []}
    q = source.get('query', {})
    text = (q.get('query') or '').strip()
    if text:
        if q.get('language', 'kuery') == 'kuery':
            text = _kuery_to_lucene(text)
        bool_['filter'].append({'query_string': {'query': text, 'analyze_wildcard': True}})
    for f in source.get('filter', ()):
        meta = f.get('meta', {})
        if meta.get('disabled'):
            continue
        bool_['must_not' if meta.get('negate') else 'filter'].append(f['query'])
    return {'bool': {k: v for k, v in bool_.items() if v}}


def _metric_agg(a):
    p = a['params']
    if a['type'] == 'percentiles':
        return {'percentiles': {'field': p['field'], 'percents': p.get('percents', [50, 95, 99])}}
    if a['type'] in ('avg', 'min', 'max', 'sum', 'cardinality'):
        return {a['type']: {'field': p['field']}}
    raise ValueError('unsupported metric aggregation %r' % a['type'])


def _bucket_agg(a):
    p = a['params']
    if a['type'] == 'terms':
        order_by = p.get('orderBy', '1')
        key = '_count' if order_by in ('1', '_count') else order_by
        terms = {'field': p['field'], 'size': p.get('size', 10),
                 'order': {key: p.get('order', 'desc')}}
        if p.get('missingBucket'):
            terms['missing'] = MISSING_BUCKET
        return {'terms': terms}
    if a['type'] == 'date_histogram':
        # Kibana derives 'auto' from the time range; a fixed minute stands in for it here.
        interval = p.get('interval', 'auto')
        return {'date_histogram': {'field': p['field'],
                                   'fixed_interval': '1m' if interval == 'auto' else interval,
                                   'min_doc_count': p.get('min_doc_count', 1)}}
    raise ValueError('unsupported bucket aggregation %r' % a['type'])


def _aggregations(vis_state):
    aggs = [a for a in vis_state.get('aggs', ()) if a.get('enabled', True)]
    metrics = {a['id']: _metric_agg(a) for a in aggs
               if a['schema'] == 'metric' and a['type'] != 'count'}
    buckets = [a for a in aggs if a['schema'] != 'metric']
    if not buckets:
        return metrics
    top = inner = None
    for a in buckets:
        body = _bucket_agg(a)
        if inner is None:
            top = {a['id']: body}
        else:
            inner['aggs'] = {a['id']: body}
        inner = body
    if metrics:
        inner['aggs'] = metrics
    return top


def queries(objects):
    """For each visualization and saved search, the Elasticsearch request Kibana would send.

    Returns dicts ``{type, id, title, index, query, aggs, sort}`` (``aggs`` and
    ``sort`` may be None); ``index`` is the data view title (an alias or index).
    """
    result = []
    for o in objects:
        if o['type'] not in ('visualization', 'search'):
            continue
        source = _search_source(o)
        vis_state = _vis_state(o)
        sort = None
        if o['type'] == 'search':
            sort = [{field: {'order': order}} for field, order in o['attributes'].get('sort', ())]
        result.append({'type': o['type'], 'id': o['id'], 'title': o['attributes']['title'],
                       'index': index_title(o, objects), 'query': _es_query(source),
                       'aggs': (_aggregations(vis_state) or None) if vis_state else None,
                       'sort': sort,
                       'columns': o['attributes'].get('columns')})
    return result


def _multipart(filename, content):
    boundary = '----nvs-notif-%s' % uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
            'Content-Type: application/ndjson\r\n\r\n' % (boundary, filename)).encode()
    body += content.encode('utf-8') + ('\r\n--%s--\r\n' % boundary).encode()
    return body, 'multipart/form-data; boundary=%s' % boundary


def import_objects(kibana_url, objects, overwrite=True, auth=None, timeout=60):
    """POST ``objects`` to ``<kibana_url>/api/saved_objects/_import``; returns Kibana's answer.

    :param auth: ``(user, password)`` for basic auth, or a full ``Authorization``
        header value (e.g. ``'ApiKey ...'``)
    :raises RuntimeError: when Kibana answers with an HTTP error
    """
    body, content_type = _multipart('nvs-notif.ndjson', dumps(objects))
    url = '%s/api/saved_objects/_import?overwrite=%s' % (kibana_url.rstrip('/'),
                                                         'true' if overwrite else 'false')
    headers = {'kbn-xsrf': 'nvs-notif', 'Content-Type': content_type}
    if isinstance(auth, (tuple, list)):
        headers['Authorization'] = 'Basic ' + base64.b64encode(
            ('%s:%s' % tuple(auth)).encode()).decode()
    elif auth:
        headers['Authorization'] = auth
    request = urllib.request.Request(url, data=body, headers=headers, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode('utf-8'))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode('utf-8', 'replace')[:2000]
        raise RuntimeError('Kibana import failed: HTTP %s %s' % (exc.code, detail)) from exc
