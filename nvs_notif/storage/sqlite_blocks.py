"""Where the SQLite file keeps the packed ``rest`` of a table's rows
(notifications' payloads, events' traits, samples' metadata): in *blocks*,
each the rests of up to :data:`SLOTS` consecutive rowids packed together
(:func:`nvs_notif.storage.sqlite_packing.pack_block`), in the table
``<table>_rests`` keyed by the rowid of its first slot.  A row's rest is
slot ``rowid - first`` of the block with the greatest ``first`` not above
its rowid; the row itself holds no pointer.

Why blocks: the rests of one batch repeat each other's keys and values,
which one DEFLATE stream finds and a row alone cannot, and a block costs
one copy of the primed compressor where rows cost one each.  On the rests
of a simulated day (972 characters on average, level 3): 127 bytes and
8 us a rest in blocks of 64, 321 bytes and 47 us alone; reading one rest
inflates its block (~0.2 ms).

A batch's rows are inserted by one statement under the write lock, and
SQLite gives the rows it inserts the rowids after the largest, in order:
the batch's blocks start at that largest rowid plus one (:func:`write`).
A purge (:func:`delete`) deletes the blocks left without a row and blanks
the slots of deleted rows in the others: nothing of a deleted row stays.
"""
import collections
import json

from nvs_notif.storage import base
from nvs_notif.storage import sqlite_packing

#: Rests a block holds at most: DEFLATE looks 32 KB back, about 32 rests;
#: 64 packed 144 bytes a rest at level 1 where 32 packed 160, 250 packed 132.
SLOTS = 64


def table(name):
    """The blocks' table of table ``name``."""
    return name + '_rests'


def create_sql(name):
    """The ``CREATE TABLE`` of table ``name``'s blocks."""
    return ('CREATE TABLE IF NOT EXISTS %s (first INTEGER PRIMARY KEY, block BLOB NOT NULL)'
            % table(name))


def pack(rests):
    """The blocks of ``rests`` (texts of consecutive rowids, ``''`` for a
    rowid without a row), packed: :data:`SLOTS` rests each, the last fewer."""
    return [sqlite_packing.pack_block(rests[i:i + SLOTS]) for i in range(0, len(rests), SLOTS)]


def write(db, name, first, blocks):
    """Keep ``blocks`` (:func:`pack`'s), the rests of rowids ``first``,
    ``first + 1``... of table ``name``."""
    # OR REPLACE: a block at or after the largest rowid holds no row (a
    # purge that deleted the newest rows deleted it, or it is a leftover).
    db.executemany('INSERT OR REPLACE INTO %s (first, block) VALUES (?, ?)' % table(name), (
        (first + i * SLOTS, block) for i, block in enumerate(blocks)))


def write_rows(db, name, rows):
    """Pack the rests of ``rows`` (``(rowid, rest text)`` in rowid order, as
    an upgrade reads them) into blocks: a block starts at a row and holds the
    rows up to :data:`SLOTS` rowids on, gaps blank."""
    first, rests = None, []
    for rowid, rest in rows:
        if first is not None and rowid - first >= SLOTS:
            write(db, name, first, pack(rests))
            first, rests = None, []
        if first is None:
            first = rowid
        rests += [''] * (rowid - first - len(rests)) + [rest]
    if rests:
        write(db, name, first, pack(rests))


# Each rowid's block: the greatest first not above it.
_FIRSTS = 'SELECT value, (SELECT max(first) FROM {t} WHERE first <= value) FROM json_each(?)'
_BLOCKS = 'SELECT first, block FROM {t} WHERE first IN (SELECT value FROM json_each(?))'


def _unpacked(db, name, rowids):
    """``(first, slots, held)`` of each block holding some of ``rowids``: its
    first rowid, its inflated slots (a block at a time, so a page of rows
    holds one block's), and those of ``rowids`` it holds."""
    held = collections.defaultdict(list)
    for rowid, first in db.execute(_FIRSTS.format(t=table(name)),
                                   (json.dumps(sorted(set(rowids))),)):
        if first is not None:
            held[first].append(rowid)
    for first, block in db.execute(_BLOCKS.format(t=table(name)), (json.dumps(list(held)),)):
        slots = sqlite_packing.unpack_block(block)
        yield first, slots, [r for r in held[first] if r - first < len(slots)]


def read(db, name, rowids):
    """``{rowid: rest text}`` of rows ``rowids`` of table ``name`` (read in
    the transaction that read the rows: a purge in between would have
    blanked them)."""
    rests = {}
    for first, slots, held in _unpacked(db, name, rowids):
        rests.update((rowid, slots[rowid - first]) for rowid in held if slots[rowid - first])
    missing = set(rowids) - rests.keys()
    if missing:
        raise base.StoreError('the rests of rows %s of %s are missing'
                              % (', '.join(map(str, sorted(missing)[:5])), name))
    return rests


def delete(db, name, where, args):
    """Delete the rows of table ``name`` that ``where`` selects and their
    rests: blocks left without a row deleted, the slots of deleted rows
    blanked in the others.  The number of rows deleted."""
    # Read, then deleted, in the caller's transaction (DELETE ... RETURNING
    # needs SQLite 3.35; RHEL 9 and Debian 11 have 3.34).
    gone = [rowid for (rowid,) in db.execute(
        'SELECT rowid FROM %s WHERE %s' % (name, where), args)]
    if not gone:
        return 0
    db.execute('DELETE FROM %s WHERE %s' % (name, where), args)
    blocks = table(name)
    # A block holds rowids from its first to the next block's first, at most SLOTS.
    db.execute('DELETE FROM {b} AS b WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE rowid >= b.first '
               'AND rowid < min(b.first + ?, coalesce((SELECT min(first) FROM {b} '
               'WHERE first > b.first), b.first + ?)))'.format(b=blocks, t=name),
               (SLOTS, SLOTS))
    blanked = []
    for first, slots, held in _unpacked(db, name, gone):
        if held:
            for rowid in held:
                slots[rowid - first] = ''
            blanked.append((sqlite_packing.pack_block(slots), first))
    db.executemany('UPDATE %s SET block = ? WHERE first = ?' % blocks, blanked)
    return len(gone)
