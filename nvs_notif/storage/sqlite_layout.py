"""The SQLite file's layout: tables, indexes and rows derived from
:mod:`nvs_notif.storage.schema`, its version (``PRAGMA user_version``) and the
upgrades of files made by earlier releases.

Each kind is a table with the fields the schema marks ``column`` and, when
the kind has fields that are not columns, the whole document in ``doc``.
"""
import json
import operator

from nvs_notif import jsontext
from nvs_notif.storage import base
from nvs_notif.storage import documents
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_rollups

#: The layout this release makes and reads.  0: files of earlier releases
#: (never set); each upgrade in _UPGRADES takes a file one version further.
VERSION = 2


def has_doc(kind):
    """Whether rows of ``kind`` keep the document (not every field is a column)."""
    if not kind.documents:
        return False
    return kind.open or any(not f.column for f in kind.fields)


def _column_sql(kind, field):
    return '"%s" %s%s' % (field.name, field.type.sql,
                          ' PRIMARY KEY' if field.name == kind.key else '')


def table_sql(kind):
    columns = [_column_sql(kind, f) for f in kind.fields if f.column]
    if has_doc(kind):
        columns.append('doc TEXT NOT NULL')
    return 'CREATE TABLE IF NOT EXISTS %s (%s)' % (kind.name, ', '.join(columns))


def index_sql(kind, index):
    sql = 'CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)' % (
        'UNIQUE ' if index.unique else '', index.name, kind.name,
        ', '.join('"%s"' % c for c in index.columns))
    return sql + (' WHERE ' + index.where if index.where else '')


def _stored(kind):
    return kind.columns + (('doc',) if has_doc(kind) else ())


def insert_sql(kind, verb='INSERT OR IGNORE'):
    names = _stored(kind)
    return '%s INTO %s (%s) VALUES (%s)' % (verb, kind.name, ', '.join('"%s"' % c for c in names),
                                           ', '.join('?' * len(names)))


def upsert_sql(kind):
    """Insert a row, or update the row with its key in place: an update, so
    the rollups' triggers see the row's old and new values (``INSERT OR
    REPLACE`` would delete it without telling them)."""
    return '%s ON CONFLICT ("%s") DO UPDATE SET %s' % (
        insert_sql(kind, 'INSERT'), kind.key,
        ', '.join('"%s" = excluded."%s"' % (c, c) for c in _stored(kind) if c != kind.key))


_notification_values = operator.itemgetter(*schema.NOTIFICATIONS.columns)
_span_values = operator.itemgetter(*schema.SPANS.columns)
_reject_values = operator.itemgetter(*schema.REJECTS.columns)


def notification_row(n, payload_json=None):
    doc, text = documents.notification_json(n, payload_json)
    return _notification_values(doc) + (text,)


def span_row(span):
    doc = documents.span_doc(span)
    return _span_values(doc) + (jsontext.encode(doc),)


def reject_row(r):
    return _reject_values(documents.reject_doc(r))


def keyed_row(kind, doc):
    """The row of a serialised event or sample (missing fields as NULL)."""
    return tuple(doc.get(c) for c in kind.columns) + (jsontext.encode(doc),)


def version(db):
    return db.execute('PRAGMA user_version').fetchone()[0]


def prepare(db):
    """Make a new file's tables, or upgrade an older file's, to :data:`VERSION`.

    Run inside ``BEGIN IMMEDIATE``: the version is read again under the write
    lock, so of several processes opening the file at once one upgrades and
    the others find it done.
    """
    found = version(db)
    if found == VERSION:
        return
    if found > VERSION:
        raise base.StoreError('the file has layout %d, newer than this release reads (%d): '
                              'upgrade nvs-notif' % (found, VERSION))
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables & set(schema.KINDS):
        _create(db)
    else:
        for step in _UPGRADES[found:]:
            step(db)
    db.execute('PRAGMA user_version = %d' % VERSION)


def _create(db):
    for kind in schema.KINDS.values():
        db.execute(table_sql(kind))
    _create_indexes(db)
    sqlite_rollups.create(db)


def _create_indexes(db):
    for kind in schema.KINDS.values():
        for index in kind.indexes:
            db.execute(index_sql(kind, index))


# -- upgrades ------------------------------------------------------------------

def _index_columns(db, name):
    return tuple(row[2] for row in db.execute('PRAGMA index_info(%s)' % name))


def _upgrade_from_0(db):
    """Files of releases before layout versions: the columns declared since
    (zone and flavor, ``open_since``, the derived span and error fields),
    filled from each row's document; the indexes declared since; and files
    from before notifications were unique by (timestamp, message_id) get that
    index in place of their index on timestamp alone."""
    if _index_columns(db, 'notifications_time') == ('timestamp',):
        db.execute('DROP INDEX notifications_time')
    for kind in schema.KINDS.values():
        db.execute(table_sql(kind))
        have = {row[1] for row in db.execute('PRAGMA table_info(%s)' % kind.name)}
        missing = [f for f in kind.fields if f.column and f.name not in have]
        for field in missing:
            db.execute('ALTER TABLE %s ADD COLUMN %s' % (kind.name, _column_sql(kind, field)))
        if missing and has_doc(kind):
            _refill(db, kind)
    _create_indexes(db)


_ROWS = {'notifications': lambda doc: notification_row(documents.notification_from_doc(doc)),
         'spans': lambda doc: span_row(documents.span_from_doc(doc))}


def _refill(db, kind):
    """Every row of ``kind`` written again from the record its document holds:
    the derived fields computed by this release."""
    columns = kind.columns + ('doc',)
    update = 'UPDATE %s SET %s WHERE rowid = ?' % (
        kind.name, ', '.join('"%s" = ?' % c for c in columns))
    to_row = _ROWS.get(kind.name, lambda doc: keyed_row(kind, doc))
    rows = db.execute('SELECT rowid, doc FROM %s' % kind.name).fetchall()
    db.executemany(update, (to_row(json.loads(doc)) + (rowid,) for rowid, doc in rows))


def _upgrade_from_1(db):
    """The rollups (:mod:`nvs_notif.storage.sqlite_rollups`), filled from the
    rows the file holds."""
    sqlite_rollups.create(db)
    sqlite_rollups.backfill(db)


#: Upgrade ``i`` takes a file of layout ``i`` to ``i + 1``.
_UPGRADES = (_upgrade_from_0, _upgrade_from_1)
