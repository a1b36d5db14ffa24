"""Checks of the shipped saved-objects files that need no Kibana (the CI check).

:func:`problems` names everything in a file its dashboard server would refuse
or show wrong: attributes outside what the saved-object type has in the
targeted version, missing or unused references, panels off or overlapping
the 48-column grid, ``allowNoIndex`` data views.
"""
import json

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
