"""The stored fields declared once (nvs_notif.storage.schema): the SQLite
layout, the search-engine mappings and the documents all follow it."""
import dataclasses
import datetime

from nvs_notif import spans
from nvs_notif.faults import Fault
from nvs_notif.storage import documents
from nvs_notif.storage import elasticsearch as es_store
from nvs_notif.storage import schema
from nvs_notif.storage import search_templates
from nvs_notif.storage import sqlite_layout

T0 = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)


def _span():
    return spans.Span(span_id='s-1', operation='compute.instance.create', service='nova',
                      host='host-2', hosts=frozenset({'host-1', 'host-2'}), start=T0,
                      last_start=T0 + datetime.timedelta(seconds=5),
                      end=T0 + datetime.timedelta(seconds=9),
                      start_ids=frozenset({'m-1', 'm-2'}), end_ids=frozenset({'m-3'}))


def test_adding_a_stored_field_is_one_declaration(monkeypatch):
    """One Field added to the spans' declaration: a SQLite column, a mapped
    field of the template, a value in the document; reads are unchanged."""
    retried = schema.Field('retried', schema.BOOLEAN, lambda s: s.attempts > 1,
                           column=True, derived=True)
    spans_kind = dataclasses.replace(schema.SPANS, fields=schema.SPANS.fields + (retried,))
    monkeypatch.setitem(schema.KINDS, 'spans', spans_kind)

    assert '"retried" INTEGER' in sqlite_layout.table_sql(spans_kind)
    assert '"retried"' in sqlite_layout.insert_sql(spans_kind)
    props = search_templates.template_body('nvs', 'spans', es_store.Engine.flat_type)[
        'template']['mappings']['properties']
    assert props['retried'] == {'type': 'boolean'}
    doc = documents.encoder(spans_kind)(_span())
    assert doc['retried'] is True
    assert documents.decoder(spans_kind, fault_when_failed=True)(doc) == _span()


def test_every_field_is_in_the_documents_and_every_column_in_the_tables():
    span_doc = documents.span_doc(_span())
    assert list(span_doc) and set(span_doc) == {f.name for f in schema.SPANS.fields}
    for kind in schema.KINDS.values():
        table = sqlite_layout.table_sql(kind)
        for field in kind.fields:
            assert ('"%s"' % field.name in table) == field.column, (kind.name, field.name)
        props = search_templates.template_body('nvs', kind.name, {'type': 'flat'})[
            'template']['mappings']['properties']
        mapped = {f.name for f in kind.fields + kind.stamped if f.mapped}
        assert mapped | set(kind.aliases) == set(props)
        assert not any('"%s"' % f.name in table for f in kind.stamped), kind.name
        for alias, path in kind.aliases.items():
            assert kind.field(path).mapped, (kind.name, alias)


def test_span_documents_read_back_into_the_same_span():
    failed = dataclasses.replace(_span(), end=None, failed=T0 + datetime.timedelta(seconds=7),
                                 fault=Fault('NoValidHost', 'No valid host was found.'))
    for span in (_span(), failed):
        assert documents.span_from_doc(documents.span_doc(span)) == span
    # A failure always has a fault, if only an empty one.
    unknown = dataclasses.replace(failed, fault=None)
    assert documents.span_from_doc(documents.span_doc(unknown)).fault == Fault()
