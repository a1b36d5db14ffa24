"""The SQLite file's layout: tables, indexes and rows derived from
:mod:`nvs_notif.storage.schema`, its version (``PRAGMA user_version``) and the
upgrades of files made by earlier releases.

Each kind is a table with the fields the schema marks ``column`` and, when
the kind has fields that are not columns, the rest of the document in
``rest``: no field is kept twice.  A closed kind's ``rest`` leaves out what
is null (every field of its documents is read back, null when absent) and
the derived fields (reads never turn them back into the record); an
open kind's keeps every key its columns do not hold (events and samples may
lack declared fields).  ``rest`` is JSON text.  When the kind has a
schemaless object outside its columns (payloads, traits) it is *packed*:
those are most of a file's bytes and no query reads into them, so the rests
of consecutive rows are deflated together in blocks beside the table
(:mod:`nvs_notif.storage.sqlite_blocks`), and a row holds its columns
alone; the spans' ``rest`` stays a column of JSON that SQL reads
(``json_extract``).
"""
import itertools
import operator

from nvs_notif import jsontext
from nvs_notif.storage import base
from nvs_notif.storage import documents
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_blocks
from nvs_notif.storage import sqlite_packing
from nvs_notif.storage import sqlite_rollups

#: The layout this release makes and reads.  0: files of earlier releases
#: (never set); 1: every document whole in a ``doc`` column; 2: and the
#: rollups (:mod:`nvs_notif.storage.sqlite_rollups`); 3: the rest of the
#: document beside the columns (``rest``), deflated where it holds a
#: schemaless object; 4: deflated with a preset dictionary, named in each
#: row (:mod:`nvs_notif.storage.sqlite_packing`); 5: the rollups kept by
#: the writer per batch, no longer by insert and update triggers; 6: a
#: notification's ``state`` in a column (history reads no ``rest``); 7: packed
#: rests in blocks of consecutive rows (:mod:`nvs_notif.storage.sqlite_blocks`),
#: no longer each in its row.  :data:`_UPGRADES` takes older files to it.
VERSION = 7


def has_rest(kind):
    """Whether rows of ``kind`` keep a ``rest`` (not every field is a column;
    kinds without ``documents`` keep the columns alone)."""
    if not kind.documents:
        return False
    return kind.open or any(not f.column for f in kind.fields)


def is_packed(kind):
    """Whether ``kind`` keeps a packed rest: it holds a schemaless object."""
    return has_rest(kind) and any(f.type is schema.OBJECT for f in kind.fields if not f.column)


#: A packed kind's ``INTEGER PRIMARY KEY``: its rowid made a column (no byte
#: more), which ``VACUUM`` and ``.dump`` keep as they need not keep a bare
#: rowid, since a row's rowid finds its rest (:mod:`nvs_notif.storage.sqlite_blocks`).
SEQ = 'seq'


def _column_sql(kind, field):
    if field.name != kind.key:
        return '"%s" %s' % (field.name, field.type.sql)
    return '"%s" %s %s' % (field.name, field.type.sql,
                           'UNIQUE' if is_packed(kind) else 'PRIMARY KEY')


def table_sql(kind, name=None, packed_in_row=False):
    """The ``CREATE TABLE`` of ``kind`` (named ``name``, default the kind's;
    ``packed_in_row``: with a packed ``rest`` in each row, as layouts 3 to 6)."""
    columns = [_column_sql(kind, f) for f in kind.fields if f.column]
    if is_packed(kind):
        columns.insert(0, '%s INTEGER PRIMARY KEY' % SEQ)
    if has_rest(kind) and not is_packed(kind):
        columns.append('rest TEXT NOT NULL')
    elif is_packed(kind) and packed_in_row:
        columns.append('rest BLOB NOT NULL')
    return 'CREATE TABLE IF NOT EXISTS %s (%s)' % (name or kind.name, ', '.join(columns))


def index_sql(kind, index):
    sql = 'CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)' % (
        'UNIQUE ' if index.unique else '', index.name, kind.name,
        ', '.join('"%s"' % c for c in index.columns))
    return sql + (' WHERE ' + index.where if index.where else '')


def _stored(kind):
    return kind.columns + (('rest',) if has_rest(kind) and not is_packed(kind) else ())


def insert_sql(kind, verb='INSERT OR IGNORE', table=None):
    names = _stored(kind)
    return '%s INTO %s (%s) VALUES (%s)' % (verb, table or kind.name,
                                           ', '.join('"%s"' % c for c in names),
                                           ', '.join('?' * len(names)))


def upsert_sql(kind):
    """Insert a row of ``kind``, or update every stored value of the row with
    its key in place: its rowid, and so its place in the file, kept, and an
    update (``INSERT OR REPLACE`` would delete it, and the rollups' delete
    trigger would take it out of them)."""
    return '%s ON CONFLICT ("%s") DO UPDATE SET %s' % (
        insert_sql(kind, 'INSERT'), kind.key,
        ', '.join('"%s" = excluded."%s"' % (c, c) for c in _stored(kind) if c != kind.key))


def select_sql(kind):
    """What to ``SELECT`` of ``kind``'s table for :func:`document` to read a
    row: its stored values, then a packed kind's ``rowid``, which
    :func:`with_rests` replaces by the row's rest."""
    return ', '.join(['"%s"' % c for c in _stored(kind)]
                     + (['rowid'] if is_packed(kind) else []))


# -- rows ----------------------------------------------------------------------

def _rest_of(kind):
    """document -> the dict ``rest`` keeps of it."""
    columns = frozenset(kind.columns)
    if kind.open:
        return lambda doc: {k: v for k, v in doc.items() if k not in columns or v is None}
    names = tuple(f.name for f in kind.fields if not (f.column or f.derived))
    return lambda doc: {k: doc[k] for k in names if doc[k] is not None}


def _rest_encoder(kind):
    rest_of = _rest_of(kind)
    return lambda doc: jsontext.encode(rest_of(doc))


_NOTIFICATION_REST = tuple(f.name for f in schema.NOTIFICATIONS.fields
                           if not f.column and f.name != 'payload')
_notification_values = operator.itemgetter(*schema.NOTIFICATIONS.columns)
_span_values = operator.itemgetter(*schema.SPANS.columns)
_span_rest = _rest_encoder(schema.SPANS)
_reject_values = operator.itemgetter(*schema.REJECTS.columns)


def notification_row(n, payload_json=None):
    """The row of a notification: ``(values, rest)`` (:func:`insert_packed`).

    :param payload_json: the payload's JSON text when the pipeline already
        made it, spliced into ``rest`` instead of encoding the payload again
    """
    doc = documents.notification_fields(n)
    rest = jsontext.encode({k: doc[k] for k in _NOTIFICATION_REST if doc[k] is not None})
    if payload_json is None:
        payload_json = jsontext.encode(n.payload)
    rest = '%s"payload":%s}' % ('{' if rest == '{}' else rest[:-1] + ',', payload_json)
    return _notification_values(doc), rest


def span_row(span):
    doc = documents.span_doc(span)
    return _span_values(doc) + (_span_rest(doc),)


def reject_row(r):
    return _reject_values(documents.reject_doc(r))


_KEYED_RESTS = {kind.name: _rest_encoder(kind) for kind in (schema.EVENTS, schema.SAMPLES)}


def keyed_row(kind, doc):
    """The row of a serialised event or sample (missing fields as NULL):
    ``(values, rest)`` (:func:`insert_packed`)."""
    return tuple(doc.get(c) for c in kind.columns), _KEYED_RESTS[kind.name](doc)


def insert_packed(db, kind, rows, packed=None, table=None):
    """Insert ``rows`` (``(values, rest)``) of packed ``kind`` into its table
    (or ``table``), ``INSERT OR IGNORE`` (a row whose key is stored, or came
    earlier in ``rows``, is left out), their rests into blocks.

    :param packed: the blocks of the rows' rests (``sqlite_blocks.pack``),
        made before the transaction (other writers wait while it is open);
        kept when every row is inserted, else the inserted rows' are packed
    :returns: ``(the largest rowid before, rows inserted)``: the inserted
        rows are those after it
    """
    name = table or kind.name
    sql = insert_sql(kind, table=name)
    (newest,), = db.execute('SELECT coalesce(max(rowid), 0) FROM main.%s' % name)
    db.execute('SAVEPOINT nvs_insert_packed')
    inserted = max(db.executemany(sql, [values for values, _ in rows]).rowcount, 0)
    if inserted < len(rows):
        # Some were left out: inserted again one at a time, to know whose
        # rests to keep (a key need not be a text, nor present).
        db.execute('ROLLBACK TO nvs_insert_packed')
        cursor = db.cursor()
        rests = [rest for values, rest in rows if cursor.execute(sql, values).rowcount == 1]
        inserted, packed = len(rests), sqlite_blocks.pack(rests)
    elif packed is None:
        packed = sqlite_blocks.pack([rest for _, rest in rows])
    db.execute('RELEASE nvs_insert_packed')
    sqlite_blocks.write(db, kind.name, newest + 1, packed)
    return newest, inserted


def with_rests(db, kind, rows):
    """``rows`` of :func:`select_sql` read on ``db``, with a packed kind's
    trailing rowid replaced by the row's rest (read in the same transaction)."""
    if not is_packed(kind) or not rows:
        return rows
    rests = sqlite_blocks.read(db, kind.name, [row[-1] for row in rows])
    return [row[:-1] + (rests[row[-1]],) for row in rows]


def _reader(kind):
    """row of :func:`select_sql` -> the document it holds."""
    columns = kind.columns
    # SQLite keeps booleans as integers.
    booleans = frozenset(f.name for f in kind.fields if f.column and f.type is schema.BOOLEAN)
    names = tuple(f.name for f in kind.fields)

    def document(row):
        doc = {} if kind.open else dict.fromkeys(names)
        if has_rest(kind):
            doc.update(jsontext.decode(row[-1]))
        for name, value in zip(columns, row):
            if value is not None:
                doc[name] = bool(value) if name in booleans else value
        return doc
    return document


_READERS = {kind.name: _reader(kind) for kind in schema.KINDS.values()}


def document(kind, row):
    """The document a row (the values of :func:`select_sql`, :func:`with_rests`)
    of ``kind`` holds."""
    return _READERS[kind.name](row)


notification_document = _READERS['notifications']
notification_document.__doc__ = ('The document of a notification row (:func:`select_sql`, '
                                 ':func:`with_rests`).')


def span(row):
    """The span of a spans row (:func:`select_sql`)."""
    return documents.span_from_doc(_READERS['spans'](row))


# -- version and upgrades --------------------------------------------------------

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
    if not _tables(db) & set(schema.KINDS):
        _create(db)
    else:
        while found < VERSION:
            found = _UPGRADES[found](db)
    db.execute('PRAGMA user_version = %d' % VERSION)


def _tables(db):
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _create(db):
    """The tables and indexes of every kind, and the rollups' tables and
    delete triggers, that are missing."""
    for kind in schema.KINDS.values():
        db.execute(table_sql(kind))
        if is_packed(kind):
            db.execute(sqlite_blocks.create_sql(kind.name))
    for kind in schema.KINDS.values():
        for index in kind.indexes:
            db.execute(index_sql(kind, index))
    sqlite_rollups.create(db)


_FROM_DOCUMENT = {
    'notifications': lambda doc: notification_row(documents.notification_from_doc(doc)),
    'spans': lambda doc: span_row(documents.span_from_doc(doc)),
}


def _rewrite_table(db, kind, fill, packed_in_row=False):
    """Write ``kind``'s table again: ``fill(db, new table)`` fills a new table
    of the current layout (``packed_in_row``: of layout 6, :func:`table_sql`)
    from the old one, which then takes its place; a packed kind's blocks are
    filled beside it, in the table's own blocks table.  The old table's
    indexes and the rollups' triggers drop with it (without firing):
    :func:`_create` makes them again.  The file needs room for a second copy
    of the table meanwhile."""
    rewritten = kind.name + '_rewritten'
    db.execute(table_sql(kind, rewritten, packed_in_row))
    if is_packed(kind) and not packed_in_row:
        db.execute(sqlite_blocks.create_sql(kind.name))
    fill(db, rewritten)
    db.execute('DROP TABLE %s' % kind.name)
    db.execute('ALTER TABLE %s RENAME TO %s' % (rewritten, kind.name))


def _rewrite_whole_documents(db):
    """Layouts 0 to 2 kept every document whole in ``doc`` (JSON): each table
    with documents written again in the current layout, its rows made by
    this release from the records the documents hold (so the fields derived
    since are computed, and files of layout 0 get every column declared
    since), then what :func:`_create` makes (files of layout 0 had fewer
    indexes)."""
    tables = _tables(db)
    for kind in schema.KINDS.values():
        if kind.name not in tables or not has_rest(kind):
            continue
        to_row = _FROM_DOCUMENT.get(kind.name, lambda doc, kind=kind: keyed_row(kind, doc))
        _rewrite_table(db, kind, lambda db, table, kind=kind, to_row=to_row: _insert(
            db, kind, table, (to_row(jsontext.decode(doc)) for (doc,) in db.execute(
                'SELECT doc FROM %s ORDER BY rowid' % kind.name))))
    _create(db)


def _insert(db, kind, table, rows):
    """Insert ``rows`` of ``kind`` into ``table``, a packed kind's a chunk at a time."""
    if not is_packed(kind):
        db.executemany(insert_sql(kind, table=table), rows)
        return
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, 10000)):
        insert_packed(db, kind, chunk, table=table)


def _upgrade_before_rollups(db):
    """Layouts 0 and 1: rewritten (:func:`_rewrite_whole_documents`), and the
    rollups filled from the rows."""
    _rewrite_whole_documents(db)
    sqlite_rollups.backfill(db)
    return VERSION


def _upgrade_from_2(db):
    """Layout 2: rewritten (:func:`_rewrite_whole_documents`); its rollups
    hold what the rows do already."""
    _rewrite_whole_documents(db)
    return VERSION


_REPACK_FUNCTION = 'nvs_repack_layout_3'


def _rest_from_layout_3(kind):
    """The SQL expression of a layout-3 row's ``rest`` in layout 4, or None
    where it is the same."""
    if is_packed(kind):
        return '%s(rest)' % _REPACK_FUNCTION
    derived = ["'$.%s'" % f.name for f in kind.fields if f.derived and not f.column]
    return 'json_remove(rest, %s)' % ', '.join(derived) if derived and not kind.open else None


def _upgrade_from_3(db):
    """Layout 3 deflated packed rests without a dictionary and kept the
    derived fields of a span beside its columns (``timestamp``): each table
    whose ``rest`` changes written again in rowid order, every row as it was
    (its rowid too: the hub's tail reads notifications by rowid) but its
    ``rest`` packed again (:mod:`nvs_notif.storage.sqlite_packing`) or
    without those fields, in SQL.  The rollups hold what the rows do
    already."""
    db.create_function(_REPACK_FUNCTION, 1, lambda blob: sqlite_packing.pack(
        sqlite_packing.unpack_layout_3(blob)), deterministic=True)
    tables = _tables(db)
    for kind in schema.KINDS.values():
        rest = _rest_from_layout_3(kind) if has_rest(kind) else None
        if kind.name not in tables or rest is None:
            continue
        columns = ', '.join('"%s"' % c for c in kind.columns)
        _rewrite_table(db, kind, lambda db, table, kind=kind, columns=columns, rest=rest:
                       db.execute('INSERT INTO %s (rowid, %s, rest) SELECT rowid, %s, %s FROM %s'
                                  ' ORDER BY rowid' % (table, columns, columns, rest, kind.name)),
                       packed_in_row=True)
    _create(db)
    return 4


def _upgrade_from_4(db):
    """Layout 4 kept the rollups by triggers on every insert and update:
    dropped, the writer keeps them per batch (the rollups hold what the
    rows do already)."""
    sqlite_rollups.drop_write_triggers(db)
    return 5


def _upgrade_from_5(db):
    """Layout 5 kept a notification's ``state`` in its packed ``rest``: the
    notifications written again in rowid order, every row as it was (its
    rowid too) but ``state`` moved from its ``rest``, unpacked and packed
    again, to its column."""
    kind = schema.NOTIFICATIONS
    before = [c for c in kind.columns if c != 'state']
    names = ', '.join('"%s"' % c for c in before)

    def rows(db):
        for row in db.execute('SELECT rowid, %s, rest FROM %s ORDER BY rowid'
                              % (names, kind.name)):
            rest = jsontext.decode(sqlite_packing.unpack(row[-1]))
            state = rest.pop('state', None)
            yield row[:-1] + (state, sqlite_packing.pack(jsontext.encode(rest)))

    if kind.name in _tables(db):
        _rewrite_table(db, kind, lambda db, table: db.executemany(
            'INSERT INTO %s (rowid, %s, state, rest) VALUES (%s)'
            % (table, names, ', '.join('?' * (len(before) + 3))), rows(db)),
            packed_in_row=True)
    _create(db)
    return 6


def _upgrade_from_6(db):
    """Layout 6 packed each row's ``rest`` alone, in the row: each packed
    table's rests packed again in blocks (:mod:`nvs_notif.storage.sqlite_blocks`),
    then the table written again in rowid order, every row as it was (its
    rowid too: a row's rowid finds its rest) without its ``rest``."""
    tables = _tables(db)
    for kind in schema.KINDS.values():
        if kind.name not in tables or not is_packed(kind):
            continue
        columns = ', '.join('"%s"' % c for c in kind.columns)

        def fill(db, table, kind=kind, columns=columns):
            sqlite_blocks.write_rows(db, kind.name, (
                (rowid, sqlite_packing.unpack(rest)) for rowid, rest in db.execute(
                    'SELECT rowid, rest FROM %s ORDER BY rowid' % kind.name)))
            db.execute('INSERT INTO %s (rowid, %s) SELECT rowid, %s FROM %s ORDER BY rowid'
                       % (table, columns, columns, kind.name))
        _rewrite_table(db, kind, fill)
    _create(db)
    return 7


#: ``{layout: upgrade}``: each upgrade takes a file of that layout further and
#: returns the layout it reached; :func:`prepare` runs them until
#: :data:`VERSION`.  A new layout adds the step from the previous one here.
_UPGRADES = {0: _upgrade_before_rollups, 1: _upgrade_before_rollups, 2: _upgrade_from_2,
             3: _upgrade_from_3, 4: _upgrade_from_4, 5: _upgrade_from_5, 6: _upgrade_from_6}
