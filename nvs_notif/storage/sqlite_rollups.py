"""Hourly rollups the SQLite file keeps up to date as it is written, so that
whole-history answers read a few thousand rows instead of the history.

Each rollup is a table of *cells*, one per key and hour: what its source
rows (spans or notifications) contribute, summed (counts, microseconds),
and their extremes (the longest duration, the first and last times).
The writer keeps them once per batch, inside the batch's transaction (so
they are exact whichever process writes the file): the notifications the
batch really inserted (duplicates SQLite ignored never count) are summed
per cell and each cell upserted once (:func:`add_notifications`); of the
spans it inserted or updated (the read-merge-write of every batch), those
whose columns the rollups read changed take their old contribution out
and add their new one, summed per cell likewise (:func:`spans_written`).
A trigger takes a deleted row (``purge``) out.  Extremes cannot be
subtracted: when a row that held a cell's extreme leaves it, the cell's
extreme is read again from its source rows (one hour of one key, through
an index).  Cells left empty are deleted.  Every statement is derived
from the :class:`Rollup` declarations.

Keys that are NULL in the source are kept as ``''`` (a key column takes no
NULL); answers show both as ``-`` anyway.  Hours are the first 13
characters of the stored ISO time (``2024-01-15T08``), ``''`` for a span
without a start.

The durations of each operation, project and hour are kept as a histogram of
log-scale buckets (:func:`bucket`): a percentile read from it is within
:data:`ALPHA` (relative) of the exact nearest-rank duration.

:func:`create` makes the tables and the delete triggers of a new file,
:func:`backfill` fills them from the rows of a file made by an earlier
release (``sqlite_layout``'s upgrade).  The answers that read them are in
:mod:`nvs_notif.storage.sqlite_span_answers` and
:mod:`nvs_notif.storage.sqlite_reads`; :func:`split` cuts a time window
into the whole hours the rollups answer and the partial hours at its edges
that the rows answer.
"""
import contextlib
import datetime
import math
import typing

from nvs_notif import faults
from nvs_notif import jsontext
from nvs_notif import timeutil

#: The relative error of a duration read from the histogram.
ALPHA = 0.01
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
#: Durations shorter than this (stored times have microseconds) are bucket 0.
_RESOLUTION = 1e-6
#: The SQL function that computes :func:`bucket` (registered on every connection).
BUCKET_FUNCTION = 'nvs_duration_bucket'

_ERROR_PRIORITIES = ', '.join("'%s'" % p for p in sorted(faults.ERROR_PRIORITIES))


def bucket(duration):
    """The histogram bucket of a duration in seconds: 0 below a microsecond,
    else ``±(1 + ceil(log_gamma(|d| / 1 µs)))``, so bucket ``k > 0`` holds
    the durations in ``(gamma^(k-2), gamma^(k-1)]`` microseconds."""
    if duration is None:
        return None
    size = abs(duration)
    if size < _RESOLUTION:
        return 0
    k = 1 + max(math.ceil(math.log(size / _RESOLUTION) / _LOG_GAMMA), 0)
    return k if duration > 0 else -k


def bucket_value(k):
    """The duration a bucket stands for: within :data:`ALPHA` of every duration in it."""
    if k == 0:
        return 0.0
    value = _RESOLUTION * 2 * _GAMMA ** (abs(k) - 1) / (1 + _GAMMA)
    return value if k > 0 else -value


def register(db):
    """Make :func:`bucket` callable from SQL (the rollups' statements call it) on ``db``."""
    db.create_function(BUCKET_FUNCTION, 1, bucket, deterministic=True)


class Rollup(typing.NamedTuple):
    """One rollup table.

    :param source: the table whose rows it sums
    :param where: which source rows count (SQL over ``{r}``), or None: all
    :param keys: ``(column, SQL over {r})`` of the cell's key, the hour last
        but for the histogram's bucket
    :param sums: ``(column, SQL over {r})`` summed; the first counts rows, a
        cell whose first sum is 0 is deleted
    :param extremes: ``(column, 'min' | 'max', SQL over {r})``
    :param cell: SQL over ``{r}`` (a source row) and ``{R}`` (the row that
        left): ``{r}`` is in ``{R}``'s cell, written so an index serves it;
        read only when an extreme left
    """
    table: str
    source: str
    where: typing.Optional[str]
    keys: tuple
    sums: tuple
    extremes: tuple = ()
    cell: str = None


def _hour(column):
    return "coalesce(substr({r}.%s, 1, 13), '')" % column


def _key(column):
    return "coalesce({r}.%s, '')" % column


def _same_hour(column):
    # Every time of hour H sorts from 'H' (13 characters) to 'H;' (':' < ';').
    return ('{r}.%(c)s >= substr({R}.%(c)s, 1, 13) AND {r}.%(c)s < substr({R}.%(c)s, 1, 13) '
            "|| ';'" % {'c': column})


def _same(*columns):
    return ' AND '.join("coalesce({r}.%s, '') = coalesce({R}.%s, '')" % (c, c) for c in columns)


_SPAN_KEYS = (('operation', _key('operation')), ('project_id', _key('project_id')))
_SPAN_CELL = '{r}.operation = {R}.operation AND %s AND %s' % (
    _same('project_id'), _same_hour('start'))
_DURATION_US = 'CAST(round({r}.duration * 1000000) AS INTEGER)'

SPAN_HOURS = Rollup(
    'span_hours', 'spans', None,
    keys=_SPAN_KEYS + (('hour', _hour('start')),),
    sums=(('spans', '1'), ('successes', "{r}.status = 'success'"),
          ('timed', '{r}.duration IS NOT NULL'),
          ('duration_us', 'coalesce(%s, 0)' % _DURATION_US),
          ('attempts', 'coalesce({r}.attempts, 0)'),
          ('rescheduled', 'coalesce({r}.rescheduled, 0)')),
    extremes=(('longest', 'max', '{r}.duration'),),
    cell=_SPAN_CELL)

SPAN_FAILURE_HOURS = Rollup(
    'span_failure_hours', 'spans', "{r}.status = 'failure'",
    keys=_SPAN_KEYS + (('error_key', _key('error_key')), ('hour', _hour('start'))),
    sums=(('failures', '1'),))

SPAN_DURATION_HOURS = Rollup(
    'span_duration_hours', 'spans', '{r}.duration IS NOT NULL',
    keys=(('operation', _key('operation')),
          ('bucket', '%s({r}.duration)' % BUCKET_FUNCTION),
          ('project_id', _key('project_id')), ('hour', _hour('start'))),
    sums=(('durations', '1'),))

_ERROR_KEYS = (('host', _key('host')), ('service', _key('service')),
               ('error_key', _key('error_key')), ('project_id', _key('project_id')))

SPAN_ERROR_HOURS = Rollup(
    'span_error_hours', 'spans', "{r}.status = 'failure'",
    keys=_ERROR_KEYS + (('hour', _hour('finished')),),
    sums=(('failures', '1'),),
    extremes=(('first', 'min', '{r}.finished'), ('last', 'max', '{r}.finished')),
    cell="{r}.status = 'failure' AND %s AND %s" % (
        _same_hour('finished'), _same('host', 'service', 'error_key', 'project_id')))

NOTIFICATION_ERROR_HOURS = Rollup(
    'notification_error_hours', 'notifications', '{r}.priority IN (%s)' % _ERROR_PRIORITIES,
    keys=_ERROR_KEYS + (('hour', _hour('timestamp')),),
    sums=(('errors', '1'),),
    extremes=(('first', 'min', '{r}.timestamp'), ('last', 'max', '{r}.timestamp')),
    cell='{r}.priority IN (%s) AND %s AND %s' % (
        _ERROR_PRIORITIES, _same_hour('timestamp'),
        _same('host', 'service', 'error_key', 'project_id')))

HOST_HOURS = Rollup(
    'host_hours', 'notifications', None,
    keys=(('host', _key('host')), ('service', _key('service')),
          ('project_id', _key('project_id')), ('hour', _hour('timestamp'))),
    sums=(('notifications', '1'),
          ('errors', '{r}.priority IN (%s)' % _ERROR_PRIORITIES)),
    extremes=(('newest', 'max', '{r}.timestamp'),),
    cell='%s AND %s' % (_same('host', 'service', 'project_id'), _same_hour('timestamp')))

ROLLUPS = (SPAN_HOURS, SPAN_FAILURE_HOURS, SPAN_DURATION_HOURS, SPAN_ERROR_HOURS,
           NOTIFICATION_ERROR_HOURS, HOST_HOURS)

#: The span columns the rollups read: a write that changes none leaves them be.
_SPAN_COLUMNS = ('operation', 'project_id', 'start', 'status', 'duration', 'attempts',
                 'rescheduled', 'error_key', 'finished', 'host', 'service')


# -- the SQL derived from the declarations ----------------------------------------------

def _on(text, r, R=None):
    return text.format(r=r, R=R)


def _columns(rollup):
    return ([k for k, _ in rollup.keys] + [s for s, _ in rollup.sums]
            + [e for e, _, _ in rollup.extremes])


def table_sql(rollup):
    columns = (['%s NOT NULL' % k for k, _ in rollup.keys]
               + ['%s INTEGER NOT NULL' % s for s, _ in rollup.sums]
               + [e for e, _, _ in rollup.extremes])
    return 'CREATE TABLE IF NOT EXISTS %s (%s, PRIMARY KEY (%s)) WITHOUT ROWID' % (
        rollup.table, ', '.join(columns), ', '.join(k for k, _ in rollup.keys))


def _insert_sql(rollup, rows, condition=None, sign=None):
    """Insert the contributions of ``rows`` (a FROM clause naming its rows
    ``r``; ``condition``: SQL over ``r`` choosing them) into ``rollup``,
    summed per cell.

    :param sign: SQL over ``r``, 1 or -1: whether a row's contribution is
        added or taken out (None: every row's is added); the extremes are
        those of the added rows (see :func:`_reread_sql`)
    """
    keys = [_on(e, 'r') for _, e in rollup.keys]
    if sign is None:
        sums = [_on(e, 'r') for _, e in rollup.sums]
        extremes = [_on(e, 'r') for _, _, e in rollup.extremes]
    else:
        sums = ['%s * (%s)' % (sign, _on(e, 'r')) for _, e in rollup.sums]
        extremes = ['CASE WHEN %s > 0 THEN %s END' % (sign, _on(e, 'r'))
                    for _, _, e in rollup.extremes]
    values = (keys + ['sum(%s)' % e for e in sums]
              + ['%s(%s)' % (f, e) for (_, f, _), e in zip(rollup.extremes, extremes)])
    where = [c for c in (condition, rollup.where and _on(rollup.where, 'r')) if c]
    # "WHERE" is needed before an upsert's ON CONFLICT after a SELECT (SQLite's parsing).
    return 'INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s GROUP BY %s' % (
        rollup.table, ', '.join(_columns(rollup)), ', '.join(values), rows,
        ' AND '.join(where) or 'true', ', '.join(str(i + 1) for i in range(len(keys))))


def _upsert_sql(rollup, rows, condition=None, sign=None):
    """:func:`_insert_sql` into the cells the rollup holds already too."""
    updates = ['%s = %s + excluded.%s' % (s, s, s) for s, _ in rollup.sums]
    updates += ['{c} = coalesce({f}({c}, excluded.{c}), {c}, excluded.{c})'.format(c=c, f=f)
                for c, f, _ in rollup.extremes]
    return '%s ON CONFLICT (%s) DO UPDATE SET %s' % (
        _insert_sql(rollup, rows, condition, sign), ', '.join(k for k, _ in rollup.keys),
        ', '.join(updates))


def backfill_sql(rollup):
    """The statement that fills an empty rollup from every source row."""
    return _insert_sql(rollup, '%s AS r' % rollup.source)


def _subtract_sql(rollup, row):
    """Take ``row``'s contribution out of its cell (the source table no longer
    holds it), reading the cell's extremes again if ``row`` held one, and
    delete the cell if it is left empty."""
    cell = ' AND '.join('%s = %s' % (k, _on(e, row)) for k, e in rollup.keys)
    if rollup.where:
        cell += ' AND ' + _on(rollup.where, row)
    updates = ['%s = %s - (%s)' % (s, s, _on(e, row)) for s, e in rollup.sums]
    for column, function, expression in rollup.extremes:
        updates.append('%s = CASE WHEN %s %s %s THEN %s ELSE %s END' % (
            column, _on(expression, row), _BEYOND[function], column,
            _extreme_sql(rollup, column, row), column))
    return ('UPDATE %s SET %s WHERE %s; DELETE FROM %s WHERE %s AND %s = 0;' % (
        rollup.table, ', '.join(updates), cell, rollup.table, cell, rollup.sums[0][0]))


#: An extreme ``f`` may have left its cell with a row whose value is ``_BEYOND[f]`` it.
_BEYOND = {'max': '>=', 'min': '<='}


def _extreme_sql(rollup, column, row):
    """The subquery reading extreme ``column`` of the cell of ``row`` (a source
    row that left it) again from the source rows."""
    (function, expression), = [(f, e) for c, f, e in rollup.extremes if c == column]
    return '(SELECT %s(%s) FROM %s AS r WHERE %s%s)' % (
        function, _on(expression, 'r'), rollup.source, _on(rollup.cell, 'r', row),
        ' AND ' + _on(rollup.where, 'r') if rollup.where else '')


def delete_trigger_sql(source):
    """The trigger that takes the rows deleted from ``source`` (a table name,
    ``purge``) out of its rollups."""
    return 'CREATE TRIGGER IF NOT EXISTS %s_rollup_delete AFTER DELETE ON %s BEGIN %s END' % (
        source, source, ' '.join(_subtract_sql(r, 'OLD') for r in ROLLUPS if r.source == source))


#: The triggers layouts 2 to 4 kept the rollups with on every write
#: (:func:`drop_write_triggers`).
_WRITE_TRIGGERS = ('notifications_rollup_insert', 'spans_rollup_insert', 'spans_rollup_update')


def create(db):
    """The rollup tables and their delete triggers (a new file, or the upgrade's last step)."""
    for rollup in ROLLUPS:
        db.execute(table_sql(rollup))
    for source in ('spans', 'notifications'):
        db.execute(delete_trigger_sql(source))


def drop_write_triggers(db):
    """Drop the insert and update triggers of a file of layouts 2 to 4: its
    writers keep the rollups per batch now (:func:`add_notifications`,
    :func:`spans_written`)."""
    for trigger in _WRITE_TRIGGERS:
        db.execute('DROP TRIGGER IF EXISTS %s' % trigger)


def backfill(db):
    """Fill the rollups again from the rows the file holds."""
    for rollup in ROLLUPS:
        db.execute('DELETE FROM %s' % rollup.table)
        db.execute(backfill_sql(rollup))


# -- per batch --------------------------------------------------------------------------

_NOTIFICATION_ROLLUPS = tuple(r for r in ROLLUPS if r.source == 'notifications')
_SPAN_ROLLUPS = tuple(r for r in ROLLUPS if r.source == 'spans')

#: The notifications a batch inserted: rowids above the largest before it
#: (SQLite gives a new row the largest rowid plus one, and the batch holds
#: the write lock).
_ADD_NOTIFICATIONS = tuple(_upsert_sql(r, 'main.notifications AS r', 'r.rowid > ?')
                           for r in _NOTIFICATION_ROLLUPS)


def add_notifications(db, newest):
    """Add the notifications inserted in the transaction of ``db``, those
    after rowid ``newest``, to the rollups, one upsert per rollup."""
    for statement in _ADD_NOTIFICATIONS:
        db.execute(statement, (newest,))


# A batch's spans as they were before it and the changes it made: what the
# rollups read of each (temporary tables, the writer connection's alone).
_SPAN_ROW = ('span_id',) + _SPAN_COLUMNS
_OLD_SPANS = 'temp.nvs_rollup_old_spans'
_SPAN_CHANGES = 'temp.nvs_rollup_span_changes'
_BATCH_SPANS = 'span_id IN (SELECT value FROM json_each(?))'
_SPAN_SELECT = 'SELECT %s FROM main.spans WHERE %s' % (
    ', '.join('"%s"' % c for c in _SPAN_ROW), _BATCH_SPANS)
_SPAN_TABLES = (
    'CREATE TEMP TABLE IF NOT EXISTS nvs_rollup_old_spans (%s)' % ', '.join(_SPAN_ROW),
    'CREATE TEMP TABLE IF NOT EXISTS nvs_rollup_span_changes (sign, %s)' % ', '.join(_SPAN_ROW))
_KEEP_OLD_SPANS = 'INSERT INTO %s %s' % (_OLD_SPANS, _SPAN_SELECT)
# A span whose columns the rollups read did not change is in neither side's
# EXCEPT (which holds NULLs equal): it contributes nothing.
_FIND_SPAN_CHANGES = (
    'INSERT INTO %(changes)s SELECT 1, * FROM (%(new)s EXCEPT SELECT * FROM %(old)s) '
    'UNION ALL SELECT -1, * FROM (SELECT * FROM %(old)s EXCEPT %(new)s)' % {
        'changes': _SPAN_CHANGES, 'old': _OLD_SPANS, 'new': _SPAN_SELECT})


def _left_cells(rollup):
    """SQL over the rollup's table: its cell is one a changed span left."""
    return '(%s) IN (SELECT %s FROM %s AS r WHERE r.sign < 0%s)' % (
        ', '.join(k for k, _ in rollup.keys), ', '.join(_on(e, 'r') for _, e in rollup.keys),
        _SPAN_CHANGES, ' AND ' + _on(rollup.where, 'r') if rollup.where else '')


def _reread_sql(rollup, column):
    """Read extreme ``column`` again in every cell a changed span left while
    holding a value at or beyond it (the cell's extreme may have left with
    it; a value the batch added beyond it holds it still)."""
    function, expression = next((f, e) for c, f, e in rollup.extremes if c == column)
    where = ['changed.sign < 0']
    if rollup.where:
        where.append(_on(rollup.where, 'changed'))
    where += ['%s.%s = %s' % (rollup.table, k, _on(e, 'changed')) for k, e in rollup.keys]
    where.append('%s %s %s.%s' % (_on(expression, 'changed'), _BEYOND[function],
                                  rollup.table, column))
    return 'UPDATE %s SET %s = %s FROM %s AS changed WHERE %s' % (
        rollup.table, column, _extreme_sql(rollup, column, 'changed'), _SPAN_CHANGES,
        ' AND '.join(where))


def _span_statements(rollup):
    yield _upsert_sql(rollup, '%s AS r' % _SPAN_CHANGES, sign='r.sign')
    for column, _, _ in rollup.extremes:
        yield _reread_sql(rollup, column)
    yield 'DELETE FROM %s WHERE %s = 0 AND %s' % (
        rollup.table, rollup.sums[0][0], _left_cells(rollup))


_APPLY_SPAN_CHANGES = tuple(s for r in _SPAN_ROLLUPS for s in _span_statements(r))


@contextlib.contextmanager
def spans_written(db, span_ids):
    """Around a block that inserts or updates the spans ``span_ids`` in the
    transaction of ``db``: the rollups kept for what it changed (each changed
    span's old contribution taken out, its new one added), one upsert per
    rollup, extremes read again only in cells whose extreme may have left."""
    ids = jsontext.encode(list(span_ids))
    for statement in _SPAN_TABLES:
        db.execute(statement)
    db.execute(_KEEP_OLD_SPANS, (ids,))
    yield
    db.execute(_FIND_SPAN_CHANGES, (ids, ids))
    for statement in _APPLY_SPAN_CHANGES:
        db.execute(statement)
    db.execute('DELETE FROM %s' % _OLD_SPANS)
    db.execute('DELETE FROM %s' % _SPAN_CHANGES)


# -- windows --------------------------------------------------------------------------

_HOUR = datetime.timedelta(hours=1)
_TICK = datetime.timedelta(microseconds=1)


class Window(typing.NamedTuple):
    """A time window cut for the rollups.

    :param hours: ``(first, last)`` hours (13-character texts, inclusive,
        None: unbounded) the rollups answer, or None: no hour is whole
    :param edges: ``(since, until)`` pairs (aware datetimes, inclusive) the
        rows answer
    """
    hours: typing.Optional[tuple]
    edges: tuple


#: No window: every hour (spans without a start too), no edge.
EVERYTHING = Window((None, None), ())


def _floor_hour(when):
    return when.replace(minute=0, second=0, microsecond=0)


def split(since, until):
    """The :class:`Window` of ``since``..``until`` (aware datetimes or None,
    inclusive): the whole hours inside it, and the partial hours at its ends.

    With neither bound, :data:`EVERYTHING`.  A window within an hour or two
    may be all edge.
    """
    if since is None and until is None:
        return EVERYTHING
    edges = []
    first = end = None          # the whole hours are [first, end)
    if since is not None:
        first = _floor_hour(since)
        if first != since:
            first += _HOUR
            edges.append((since, first - _TICK))
    if until is not None:
        end = _floor_hour(until)
        if until - end != _HOUR - _TICK:
            edges.append((end, until))
        else:
            end += _HOUR
    if first is not None and end is not None and first >= end:
        return Window(None, ((since, until),))
    return Window((_hour_text(first), _hour_text(end - _HOUR if end is not None else None)),
                  tuple(edges))


def _hour_text(when):
    return timeutil.iso(when)[:13] if when is not None else None


def hour_filter(where, args, window, column='hour'):
    """Add ``window``'s whole hours to ``where`` (of a rollup).  A window with
    a bound leaves out the hour ``''``: spans without a start are inside none."""
    first, last = window.hours
    if window is EVERYTHING:
        return
    where.append("%s != ''" % column)
    if first is not None:
        where.append('%s >= ?' % column)
        args.append(first)
    if last is not None:
        where.append('%s <= ?' % column)
        args.append(last)
