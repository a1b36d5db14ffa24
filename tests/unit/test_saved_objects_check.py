"""The CI check of the shipped saved-objects files (no Kibana runs here)."""
import copy
import json

import pytest

from nvs_notif import kibana
from tests import saved_objects


@pytest.fixture
def objects():
    return kibana.load()


def test_the_shipped_kibana_file_is_sound(objects):
    assert saved_objects.problems(objects, 'kibana') == []


def _by_id(objects, obj_id):
    return next(o for o in objects if o['id'] == obj_id)


def _panels(dashboard):
    return json.loads(dashboard['attributes']['panelsJSON'])


def _set_panels(dashboard, panels):
    dashboard['attributes']['panelsJSON'] = json.dumps(panels)


def _one_problem(objects, flavor='kibana'):
    found = saved_objects.problems(objects, flavor)
    assert len(found) == 1, found
    return found[0]


def test_an_attribute_the_type_does_not_have(objects):
    _by_id(objects, 'nvs-errors')['attributes']['hits'] = 0   # OSD's, not Kibana 8's
    assert _one_problem(objects) == (
        "search nvs-errors: attributes ['hits'] are not those of a search in kibana")


def test_allow_no_index(objects):
    _by_id(objects, 'nvs-spans')['attributes']['allowNoIndex'] = True
    assert 'allowNoIndex' in _one_problem(objects)


def test_versions(objects):
    _by_id(objects, 'nvs-errors')['typeMigrationVersion'] = '8.15.0'
    assert 'typeMigrationVersion 8.15.0 is newer than Kibana 8.8.0' in _one_problem(objects)
    del _by_id(objects, 'nvs-errors')['typeMigrationVersion']
    assert "missing ['typeMigrationVersion']" in _one_problem(objects)


def test_a_reference_to_nothing(objects):
    health = _by_id(objects, 'nvs-dashboard-health')
    health['references'][0]['id'] = 'nvs-vis-gone'
    assert _one_problem(objects) == (
        'dashboard nvs-dashboard-health: reference 1:panel_1 to visualization nvs-vis-gone '
        'resolves to nothing in the file')


def test_a_panel_without_its_reference_and_an_unused_one(objects):
    health = _by_id(objects, 'nvs-dashboard-health')
    health['references'][0]['name'] = '9:panel_9'
    assert saved_objects.problems(objects, 'kibana') == [
        'dashboard nvs-dashboard-health: uses reference 1:panel_1, not in its references',
        'dashboard nvs-dashboard-health: reference 9:panel_9 is not used']


def test_panels_past_the_grid_or_overlapping(objects):
    health = _by_id(objects, 'nvs-dashboard-health')
    panels = _panels(health)
    wide = copy.deepcopy(panels)
    wide[1]['gridData']['w'] = 25   # x=24: ends at 49
    _set_panels(health, wide)
    assert _one_problem(objects) == (
        'dashboard nvs-dashboard-health: panel 2 ends at column 49, past 48')
    over = copy.deepcopy(panels)
    over[1]['gridData'].update(x=23)   # one column over panel 1
    _set_panels(health, over)
    assert _one_problem(objects) == 'dashboard nvs-dashboard-health: panels 1 and 2 overlap'
    under = copy.deepcopy(panels)
    under[2]['gridData'].update(y=under[0]['gridData']['h'] - 1)
    _set_panels(health, under)
    assert 'overlap' in _one_problem(objects)


def test_the_shipped_opensearch_dashboards_file_is_sound():
    osd = kibana.load(kibana.OPENSEARCH_DASHBOARDS.file)
    assert saved_objects.problems(osd, 'osd') == []
    # Kibana 8's format is refused by the check for OpenSearch Dashboards.
    assert saved_objects.problems(kibana.load(), 'osd')


def test_opensearch_dashboards_panel_references_are_plain_names():
    osd = kibana.load(kibana.OPENSEARCH_DASHBOARDS.file)
    health = _by_id(osd, 'nvs-dashboard-health')
    assert [r['name'] for r in health['references']][:3] == ['panel_1', 'panel_2', 'panel_3']
    health['references'][0]['name'] = '1:panel_1'   # Kibana 8's name
    assert saved_objects.problems(osd, 'osd') == [
        'dashboard nvs-dashboard-health: uses reference panel_1, not in its references',
        'dashboard nvs-dashboard-health: reference 1:panel_1 is not used']


def test_both_files_show_the_same_things(objects):
    """The two files differ in format only: same objects, data views, queries and panels."""
    osd = kibana.load(kibana.OPENSEARCH_DASHBOARDS.file)
    assert [(o['type'], o['id']) for o in osd] == [(o['type'], o['id']) for o in objects]
    assert saved_objects.queries(osd) == saved_objects.queries(objects)
    for o, k in zip(osd, objects):
        assert {(r['type'], r['id']) for r in o['references']} == {
            (r['type'], r['id']) for r in k['references']}
        if o['type'] == 'index-pattern':
            assert o['attributes']['timeFieldName'] == k['attributes']['timeFieldName']
        if o['type'] == 'dashboard':
            assert [p['gridData'] for p in _panels(o)] == [p['gridData'] for p in _panels(k)]
