"""What the tests know about the shipped saved-objects files, without a Kibana.

:func:`problems` (the CI check) names everything in a file its dashboard
server would refuse or show wrong: attributes outside what the saved-object
type has in the targeted version, missing or unused references, panels off or
overlapping the 48-column grid, ``allowNoIndex`` data views.
:func:`referenced_fields_by_kind` lists the fields the objects name (checked
against the index templates) and :func:`queries` the Elasticsearch requests
Kibana would send for them (run on real clusters by the functional tests).
"""
import json
import re

GRID_COLUMNS = 48

# The attributes of each saved-object type in the oldest version the file
# targets (Kibana 8.8: src/plugins/*/server/saved_objects mappings and
# content-management schemas; OpenSearch Dashboards 2.x: the saved objects'
# mappings of its data, discover, visualizations and dashboard plugins).
ATTRIBUTES = {
    'kibana': {
        'index-pattern': {'title', 'name', 'timeFieldName', 'fields', 'fieldAttrs',
                          'fieldFormatMap', 'runtimeFieldMap', 'sourceFilters', 'typeMeta',
                          'type', 'allowHidden'},
        'search': {'title', 'description', 'columns', 'sort', 'grid', 'hideChart',
                   'isTextBasedQuery', 'kibanaSavedObjectMeta', 'rowHeight', 'rowsPerPage',
                   'sampleSize', 'breakdownField', 'timeRestore', 'timeRange',
                   'refreshInterval', 'viewMode', 'hideAggregatedPreview',
                   'usesAdHocDataView'},
        'visualization': {'title', 'description', 'visState', 'uiStateJSON', 'version',
                          'kibanaSavedObjectMeta', 'savedSearchRefName'},
        'dashboard': {'title', 'description', 'panelsJSON', 'optionsJSON', 'version',
                      'timeRestore', 'timeFrom', 'timeTo', 'refreshInterval',
                      'kibanaSavedObjectMeta', 'controlGroupInput'},
    },
    'osd': {
        'index-pattern': {'title', 'timeFieldName', 'fields', 'fieldFormatMap', 'intervalName',
                          'notExpandable', 'sourceFilters', 'type', 'typeMeta'},
        'search': {'title', 'description', 'hits', 'columns', 'sort', 'version',
                   'kibanaSavedObjectMeta'},
        'visualization': {'title', 'description', 'visState', 'uiStateJSON', 'version',
                          'kibanaSavedObjectMeta', 'savedSearchRefName'},
        'dashboard': {'title', 'description', 'hits', 'panelsJSON', 'optionsJSON', 'version',
                      'timeRestore', 'timeFrom', 'timeTo', 'refreshInterval',
                      'kibanaSavedObjectMeta'},
    },
}
#: Top-level keys of an exported object; Kibana's carry the versions it migrates from.
TOP_LEVEL = {
    'kibana': {'id', 'type', 'attributes', 'references', 'coreMigrationVersion',
               'typeMigrationVersion', 'managed'},
    'osd': {'id', 'type', 'attributes', 'references', 'migrationVersion'},
}
REQUIRED_TOP_LEVEL = {
    'kibana': {'id', 'type', 'attributes', 'references', 'coreMigrationVersion',
               'typeMigrationVersion'},
    'osd': {'id', 'type', 'attributes', 'references'},
}
#: Kibana 8.8: the version the objects say they were written by.
KIBANA_CORE_VERSION = '8.8.0'
JSON_ATTRIBUTES = ('visState', 'uiStateJSON', 'panelsJSON', 'optionsJSON')


def _version(text):
    return tuple(int(p) for p in text.split('.'))


def _json(o, text, what, found):
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        found.append('%s %s: %s is not JSON (%s)' % (o['type'], o.get('id'), what, exc))
        return None


def _panel_ref_name(flavor, panel):
    if flavor == 'kibana':
        return '%s:%s' % (panel['panelIndex'], panel['panelRefName'])
    return panel['panelRefName']


def _overlap(a, b):
    return (a['x'] < b['x'] + b['w'] and b['x'] < a['x'] + a['w']
            and a['y'] < b['y'] + b['h'] and b['y'] < a['y'] + a['h'])


def _grid_problems(name, panels):
    found = []
    grids = []
    for p in panels:
        g = p.get('gridData') or {}
        if not all(isinstance(g.get(k), int) for k in ('x', 'y', 'w', 'h')):
            found.append('%s: panel %s has no integer gridData x, y, w, h' % (
                name, p.get('panelIndex')))
            continue
        if g['x'] < 0 or g['y'] < 0 or g['w'] < 1 or g['h'] < 1:
            found.append('%s: panel %s has a negative or empty gridData' % (
                name, p.get('panelIndex')))
        if g['x'] + g['w'] > GRID_COLUMNS:
            found.append('%s: panel %s ends at column %d, past %d' % (
                name, p.get('panelIndex'), g['x'] + g['w'], GRID_COLUMNS))
        for other_index, other in grids:
            if _overlap(g, other):
                found.append('%s: panels %s and %s overlap' % (
                    name, other_index, p.get('panelIndex')))
        grids.append((p.get('panelIndex'), g))
    return found


def _used_reference_names(flavor, o, found):
    """The reference names an object's JSON attributes use."""
    attrs = o['attributes']
    names = []
    meta = attrs.get('kibanaSavedObjectMeta')
    source = _json(o, meta.get('searchSourceJSON'), 'searchSourceJSON', found) if meta else {}
    source = source or {}
    if 'indexRefName' in source:
        names.append(source['indexRefName'])
    names += [f['meta']['indexRefName'] for f in source.get('filter', ())
              if 'indexRefName' in f.get('meta', {})]
    if attrs.get('savedSearchRefName'):
        names.append(attrs['savedSearchRefName'])
    if o['type'] in ('search', 'visualization') and not names:
        found.append('%s %s: reads no data view (no indexRefName)' % (o['type'], o['id']))
    if o['type'] == 'dashboard':
        panels = _json(o, attrs.get('panelsJSON'), 'panelsJSON', found) or []
        if not panels:
            found.append('dashboard %s: no panels' % o['id'])
        names += [_panel_ref_name(flavor, p) for p in panels]
        found += _grid_problems('dashboard %s' % o['id'], panels)
    return names


def problems(objects, flavor):
    """What is wrong in saved ``objects`` for ``flavor`` (``kibana`` or ``osd``).

    :returns: one sentence per problem; empty when the file is sound
    """
    found = []
    known = {(o.get('type'), o.get('id')) for o in objects}
    if len(known) != len(objects):
        found.append('duplicate type and id')
    for o in objects:
        what = '%s %s' % (o.get('type'), o.get('id'))
        allowed = ATTRIBUTES[flavor].get(o.get('type'))
        if allowed is None:
            found.append('%s: unexpected type' % what)
            continue
        keys = set(o)
        if keys - TOP_LEVEL[flavor] or REQUIRED_TOP_LEVEL[flavor] - keys:
            found.append('%s: top-level keys %s, unknown %s, missing %s' % (
                what, sorted(keys), sorted(keys - TOP_LEVEL[flavor]),
                sorted(REQUIRED_TOP_LEVEL[flavor] - keys)))
        if flavor == 'kibana' and o.get('coreMigrationVersion') != KIBANA_CORE_VERSION:
            found.append('%s: coreMigrationVersion %s, not %s' % (
                what, o.get('coreMigrationVersion'), KIBANA_CORE_VERSION))
        if flavor == 'kibana' and 'typeMigrationVersion' in o and (
                _version(o['typeMigrationVersion']) > _version(KIBANA_CORE_VERSION)):
            found.append('%s: typeMigrationVersion %s is newer than Kibana %s' % (
                what, o['typeMigrationVersion'], KIBANA_CORE_VERSION))
        attrs = o.get('attributes') or {}
        if 'allowNoIndex' in attrs:
            found.append('%s: allowNoIndex (a data view that hides a missing index)' % what)
        unknown = set(attrs) - allowed - {'allowNoIndex'}
        if unknown:
            found.append('%s: attributes %s are not those of a %s in %s' % (
                what, sorted(unknown), o['type'], flavor))
        if not attrs.get('title'):
            found.append('%s: no title' % what)
        for key in JSON_ATTRIBUTES:
            if key in attrs:
                _json(o, attrs[key], key, found)
        refs = o.get('references') or []
        names = [r.get('name') for r in refs]
        if len(names) != len(set(names)):
            found.append('%s: reference names repeat' % what)
        for ref in refs:
            if (ref.get('type'), ref.get('id')) not in known:
                found.append('%s: reference %s to %s %s resolves to nothing in the file' % (
                    what, ref.get('name'), ref.get('type'), ref.get('id')))
        used = _used_reference_names(flavor, dict(o, attributes=attrs), found)
        for name in sorted(set(used) - set(names)):
            found.append('%s: uses reference %s, not in its references' % (what, name))
        for name in sorted(set(names) - set(used)):
            found.append('%s: reference %s is not used' % (what, name))
    return found


# -- fields and queries ------------------------------------------------------

KINDS = ('notifications', 'spans', 'rejects')
#: The key Kibana gives documents without the field (a terms aggregation's missingBucket).
MISSING_BUCKET = '__missing__'


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


def es_query(source):
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
                       'index': index_title(o, objects), 'query': es_query(source),
                       'aggs': (_aggregations(vis_state) or None) if vis_state else None,
                       'sort': sort,
                       'columns': o['attributes'].get('columns')})
    return result
