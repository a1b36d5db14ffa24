"""How the SQLite file packs the ``rest`` of rows that hold a schemaless
object (notifications' payloads, events' traits, samples' metadata): raw
DEFLATE (:mod:`zlib`) with a preset dictionary, the dictionary's id in the
first byte.  A block (:func:`pack_block`) packs the rests of consecutive rows
together, a line each (:mod:`nvs_notif.storage.sqlite_blocks` says where it
is kept); layouts 4 to 6 packed each row's alone (:func:`pack`).

A payload alone is too short for DEFLATE to learn its keys and common values
(``"publisher_id":"compute.``, ``"nova_object.`` ... ``"state":"active"``),
and a block's first rests are too.  A preset dictionary holds them once, in the
code: what services send, taken from the notifications of
``tests/unit/fixtures/notifications`` (nova legacy and versioned, cinder,
glance, neutron, keystone basic and CADF, heat), each as the layout keeps
its ``rest``, one per line, nova's last (DEFLATE reaches the nearest
matches most cheaply).  It holds no stored data, so a purge leaves nothing
of a tenant behind in it.

A dictionary is never changed or removed once released: rows packed with
it could no longer be read.  A better one is added under a new id and
:data:`PACKING` moves to it; rows keep the id they were packed with.
"""
import functools
import hashlib
import importlib.resources
import zlib

from nvs_notif.storage import base

#: ``{id: (file under nvs_notif/data/sqlite, its sha256)}``: every dictionary
#: rows may be packed with.
DICTIONARIES = {
    1: ('rest-dictionary-1.txt', '3604ec2db9858003e238cc71a580ebc66cbd6fa82099eb63c84d229e00d003ef'),
}
#: The dictionary new rows are packed with.
PACKING = 1

# Raw DEFLATE (no zlib header and checksum: SQLite's own pages are the
# container) at level 3: on 20,000 rests of a simulated day (972
# characters on average) in blocks of 64, level 1 packed 144 bytes a rest
# in 6.5 us, 3 127 bytes in 8.3 us (alone: 351 bytes in 36 us, 321 in
# 47 us); on single rests, 6 (zlib's default) took 15% more time than 3
# for 6% fewer bytes.  Any level inflates the same way: rests packed at
# another stay readable.
_LEVEL = 3
_WBITS = -15


@functools.cache
def dictionary(ident):
    """The bytes of dictionary ``ident``, checked against its digest (a
    changed file would leave rows unreadable: refused, never used)."""
    try:
        name, digest = DICTIONARIES[ident]
    except KeyError:
        raise base.StoreError('a packed row names dictionary %d, which this release does not '
                              'have: upgrade nvs-notif' % ident) from None
    data = (importlib.resources.files('nvs_notif') / 'data' / 'sqlite' / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise base.StoreError('nvs_notif/data/sqlite/%s is not the dictionary %d rows were '
                              'packed with' % (name, ident))
    return data


@functools.cache
def _primed():
    """A compressor that has read :data:`PACKING`'s dictionary and nothing
    else: each row is packed by a copy of it (priming one per row would hash
    the whole dictionary every time)."""
    return zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, zdict=dictionary(PACKING))


_HEADER = bytes((PACKING,))


def pack(text):
    """The packed bytes of ``text``: :data:`PACKING`'s id, then the DEFLATE stream
    (a block's, or a single rest as layouts 4 to 6 kept it)."""
    compressor = _primed().copy()
    return _HEADER + compressor.compress(text.encode('utf-8', 'surrogatepass')) + compressor.flush()


def pack_block(texts):
    """The packed bytes of a block: ``texts`` (rests, ``''`` for an empty
    slot), a line each.  Stored rests are compact JSON (:mod:`nvs_notif.jsontext`),
    which escapes every line break inside strings."""
    text = '\n'.join(texts)
    if text.count('\n') != len(texts) - 1:
        raise ValueError('a rest of a block holds a line break')
    return pack(text)


def unpack_block(blob):
    """The texts of :func:`pack_block`'s bytes, a slot each."""
    return unpack(blob).split('\n')


def unpack(blob):
    """The text of :func:`pack`'s bytes, with the dictionary they name."""
    inflater = zlib.decompressobj(_WBITS, zdict=dictionary(blob[0]))
    data = inflater.decompress(memoryview(blob)[1:])
    tail = inflater.flush()     # empty once the whole stream was given: no copy
    if tail:
        data += tail
    if not inflater.eof:
        raise base.StoreError('a packed row is cut short')
    return data.decode('utf-8', 'surrogatepass')


def unpack_layout_3(blob):
    """The text of a row packed by layout 3: raw DEFLATE, no dictionary, no id."""
    return zlib.decompress(blob, _WBITS).decode('utf-8', 'surrogatepass')
