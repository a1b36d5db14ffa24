"""Hourly rollups the SQLite file keeps up to date as it is written, so that
whole-history answers read a few thousand rows instead of the history.

Each rollup is a table of *cells*, one per key and hour: what its source
rows (spans or notifications) contribute, summed (counts, microseconds),
and their extremes (the longest duration, the first and last times).
Triggers on the source tables keep them: an inserted row adds its
contribution, a deleted one (``purge``) subtracts it, an updated span (the
read-merge-write of every batch, an upsert) subtracts its old contribution
and adds its new one, and only when a column the rollups read changed.
Extremes cannot be subtracted: when the row that held a cell's extreme
leaves it, the cell's extreme is read again from its source rows (one hour
of one key, through an index).  Cells left empty are deleted.  Being
triggers, the rollups hold exactly what the tables hold, whichever process
wrote them and whatever SQLite ignored (duplicate notifications).

Keys that are NULL in the source are kept as ``''`` (a key column takes no
NULL); answers show both as ``-`` anyway.  Hours are the first 13
characters of the stored ISO time (``2024-01-15T08``), ``''`` for a span
without a start.

The durations of each operation, project and hour are kept as a histogram of
log-scale buckets (:func:`bucket`): a percentile read from it is within
:data:`ALPHA` (relative) of the exact nearest-rank duration.

:func:`create` makes the tables and triggers of a new file, :func:`backfill`
fills them from the rows of a file made by an earlier release
(``sqlite_layout``'s upgrade).  The answers that read them are in
:mod:`nvs_notif.storage.sqlite_span_answers` and
:mod:`nvs_notif.storage.sqlite_reads`; :func:`split` cuts a time window
into the whole hours the rollups answer and the partial hours at its edges
that the rows answer.
"""
import datetime
import math
import typing

from nvs_notif import faults
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
    """Make :func:`bucket` callable from SQL (the triggers call it) on ``db``."""
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

#: The span columns the rollups read: an update that changes none leaves them be.
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


def _contribution(rollup, r):
    return ([_on(e, r) for _, e in rollup.keys] + [_on(e, r) for _, e in rollup.sums]
            + [_on(e, r) for _, _, e in rollup.extremes])


def backfill_sql(rollup):
    """The statement that fills an empty rollup from every source row."""
    keys = [_on(e, 'r') for _, e in rollup.keys]
    values = (keys + ['sum(%s)' % _on(e, 'r') for _, e in rollup.sums]
              + ['%s(%s)' % (f, _on(e, 'r')) for _, f, e in rollup.extremes])
    return 'INSERT INTO %s (%s) SELECT %s FROM %s AS r%s GROUP BY %s' % (
        rollup.table, ', '.join(_columns(rollup)), ', '.join(values), rollup.source,
        ' WHERE ' + _on(rollup.where, 'r') if rollup.where else '',
        ', '.join(str(i + 1) for i in range(len(keys))))


def _add_sql(rollup, row):
    # "WHERE" is needed before ON CONFLICT after a SELECT (SQLite's parsing).
    updates = ['%s = %s + excluded.%s' % (s, s, s) for s, _ in rollup.sums]
    updates += ['{c} = coalesce({f}({c}, excluded.{c}), {c}, excluded.{c})'.format(c=c, f=f)
                for c, f, _ in rollup.extremes]
    return ('INSERT INTO %s (%s) SELECT %s WHERE %s ON CONFLICT (%s) DO UPDATE SET %s;' % (
        rollup.table, ', '.join(_columns(rollup)), ', '.join(_contribution(rollup, row)),
        _on(rollup.where, row) if rollup.where else 'true',
        ', '.join(k for k, _ in rollup.keys), ', '.join(updates)))


def _subtract_sql(rollup, row):
    """Take ``row``'s contribution out of its cell (the source table no longer
    holds it), reading the cell's extremes again if ``row`` held one, and
    delete the cell if it is left empty."""
    cell = ' AND '.join('%s = %s' % (k, _on(e, row)) for k, e in rollup.keys)
    if rollup.where:
        cell += ' AND ' + _on(rollup.where, row)
    updates = ['%s = %s - (%s)' % (s, s, _on(e, row)) for s, e in rollup.sums]
    for column, function, expression in rollup.extremes:
        value = _on(expression, row)
        beyond = '>=' if function == 'max' else '<='
        updates.append('%s = CASE WHEN %s %s %s THEN (SELECT %s(%s) FROM %s AS r WHERE %s%s) '
                       'ELSE %s END' % (
                           column, value, beyond, column, function, _on(expression, 'r'),
                           rollup.source, _on(rollup.cell, 'r', row),
                           ' AND ' + _on(rollup.where, 'r') if rollup.where else '', column))
    return ('UPDATE %s SET %s WHERE %s; DELETE FROM %s WHERE %s AND %s = 0;' % (
        rollup.table, ', '.join(updates), cell, rollup.table, cell, rollup.sums[0][0]))


def trigger_sql(source):
    """The triggers that keep the rollups of ``source`` (a table name)."""
    rollups = [r for r in ROLLUPS if r.source == source]
    add = ' '.join(_add_sql(r, 'NEW') for r in rollups)
    subtract = ' '.join(_subtract_sql(r, 'OLD') for r in rollups)
    statements = [
        'CREATE TRIGGER IF NOT EXISTS %s_rollup_insert AFTER INSERT ON %s BEGIN %s END'
        % (source, source, add),
        'CREATE TRIGGER IF NOT EXISTS %s_rollup_delete AFTER DELETE ON %s BEGIN %s END'
        % (source, source, subtract)]
    if source == 'spans':
        changed = ' OR '.join('OLD.%s IS NOT NEW.%s' % (c, c) for c in _SPAN_COLUMNS)
        statements.append(
            'CREATE TRIGGER IF NOT EXISTS spans_rollup_update AFTER UPDATE ON spans '
            'WHEN %s BEGIN %s %s END' % (changed, subtract, add))
    return statements


def create(db):
    """The rollup tables and their triggers (a new file, or the upgrade's last step)."""
    for rollup in ROLLUPS:
        db.execute(table_sql(rollup))
    for source in ('spans', 'notifications'):
        for statement in trigger_sql(source):
            db.execute(statement)


def backfill(db):
    """Fill the rollups again from the rows the file holds."""
    for rollup in ROLLUPS:
        db.execute('DELETE FROM %s' % rollup.table)
        db.execute(backfill_sql(rollup))


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
