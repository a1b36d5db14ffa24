"""The SQLite store's read side: notification listings read in pages, and the
aggregations of ``errors`` and ``hosts`` in SQL: the whole hours of a window
from the rollups (:mod:`nvs_notif.storage.sqlite_rollups`), the partial hours
at its edges from the rows.

Every function takes ``read(sql, args, rests=None)``, which runs one
statement on a read connection and returns its rows (``rests``: the kind
whose whole rows it selects, their rests read with them), so a listing never
holds a connection between pages.
"""
import operator

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import hosts as hosts_answer
from nvs_notif.storage import schema
from nvs_notif.storage import sqlite_layout
from nvs_notif.storage import sqlite_rollups
from nvs_notif import timeutil

#: Notifications read per statement of a listing.
PAGE = 1000
# Written as the partial index notifications_errors says it, so that SQLite uses it.
_ERRORS = 'priority IN (%s)' % ', '.join("'%s'" % p for p in errors_answer.PRIORITIES)
_NOTIFICATION_COLUMNS = sqlite_layout.select_sql(schema.NOTIFICATIONS)
# Where a page ends: every selection starts with these columns.
_PAGE_KEY = ('timestamp', 'message_id')
_page_key = operator.itemgetter(0, 1)


def add_prefix(where, args, column, prefix):
    """``column`` starts with ``prefix``, as a range an index on it serves: with
    BINARY collation the values starting with the prefix sort from it to (not
    including) the prefix with its last character incremented."""
    where.append('%s >= ? AND substr(%s, 1, ?) = ?' % (column, column))
    args += [prefix, len(prefix), prefix]
    if prefix[-1] != '\U0010ffff':
        where.append('%s < ?' % column)
        args.append(prefix[:-1] + chr(ord(prefix[-1]) + 1))


def window(where, args, column, since, until):
    """``column`` inside ``since``..``until`` (aware datetimes or None, inclusive),
    exactly: ISO texts of UTC times (timeutil.iso) sort as the times do."""
    if since is not None:
        where.append('%s >= ?' % column)
        args.append(timeutil.iso(since))
    if until is not None:
        where.append('%s <= ?' % column)
        args.append(timeutil.iso(until))


def notification_filter(request_ids=None, project_id=None, user_id=None, resource_id=None,
                        since=None, until=None, priorities=None, host=None, service=None,
                        event_type=None, request=None, message_id=None):
    """``(where clauses, args)`` of :meth:`nvs_notif.storage.base.Store.notifications`' filters."""
    where, args = [], []
    for column, value in (('project_id', project_id), ('user_id', user_id),
                          ('resource_id', resource_id), ('host', host), ('service', service),
                          ('message_id', message_id)):
        if value is not None:
            where.append('%s = ?' % column)
            args.append(value)
    for column, values in (('request_id', request_ids), ('priority', priorities)):
        if values is not None:
            values = list(values)
            where.append('%s IN (%s)' % (column, ','.join('?' * len(values))))
            args += values
    if request is not None:
        where.append('(request_id = ? OR global_request_id = ?)')
        args += [request, request]
    if event_type:
        add_prefix(where, args, 'event_type', event_type)
    window(where, args, 'timestamp', since, until)
    return where, args


def _selection(fields):
    """``(SELECT list, row -> document, kind whose rests are read or None)``
    of a listing of ``fields`` (None: every field): the columns alone when
    they hold them all (no ``rest`` read and unpacked), else the whole
    documents.  Both start with the page key."""
    if fields is None or not set(fields) <= set(schema.NOTIFICATIONS.columns):
        # The page key first, then the whole row.
        return ('timestamp, message_id, ' + _NOTIFICATION_COLUMNS,
                lambda row: sqlite_layout.notification_document(row[2:]), schema.NOTIFICATIONS)
    names = _PAGE_KEY + tuple(f for f in fields if f not in _PAGE_KEY)
    return ', '.join('"%s"' % n for n in names), lambda row: dict(zip(names, row)), None


def notification_pages(read, where, args, limit=None, oldest_first=False, after=None,
                       fields=None):
    """The documents ``where`` selects, in ``(timestamp, message_id)`` order,
    read :data:`PAGE` at a time, each page after the last one's key (the
    unique index on that key serves it).

    :param fields: the fields the caller reads (None: every field); the
        documents may hold only these
    """
    selected, document, rests = _selection(fields)
    order = 'ASC' if oldest_first else 'DESC'
    beyond = '(timestamp, message_id) %s (?, ?)' % ('>' if oldest_first else '<')
    left = limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        clauses, values = list(where), list(args)
        if after is not None:
            clauses.append(beyond)
            values += list(after)
        sql = 'SELECT %s FROM notifications' % selected
        if clauses:
            sql += ' WHERE ' + ' AND '.join(clauses)
        sql += ' ORDER BY timestamp %s, message_id %s LIMIT ?' % (order, order)
        rows = read(sql, values + [size], rests=rests)
        yield from map(document, rows)
        if len(rows) < size:
            return
        after = _page_key(rows[-1])
        if left is not None:
            left -= len(rows)


def host_activity(read, since, until, project_id=None):
    """:class:`~nvs_notif.answers.hosts.HostActivity` of ``since``..``until``:
    the whole hours from the ``host_hours`` rollup, the edges from the rows
    (:func:`_rows_host_activity`), added up per host and service."""
    window = sqlite_rollups.split(since, until)
    activity = []
    if window.hours is not None:
        where, args = [], []
        if project_id is not None:
            where.append('project_id = ?')
            args.append(project_id)
        sqlite_rollups.hour_filter(where, args, window)
        activity += [hosts_answer.HostActivity(host or None, service or None, count, errors,
                                               timeutil.parse_iso(last))
                     for host, service, count, errors, last in read(
                         'SELECT host, service, sum(notifications), sum(errors), max(newest) '
                         'FROM host_hours%s GROUP BY host, service'
                         % (' WHERE ' + ' AND '.join(where) if where else ''), args)]
    for edge in window.edges:
        activity += _rows_host_activity(read, *edge, project_id)
    added = {}
    for a in activity:
        a = a._replace(host=a.host or None, service=a.service or None)
        key = (a.host, a.service)
        if key in added:
            had = added[key]
            a = a._replace(count=a.count + had.count, errors=a.errors + had.errors,
                           last=max(a.last, had.last))
        added[key] = a
    return list(added.values())


def _rows_host_activity(read, since, until, project_id=None):
    """:class:`~nvs_notif.answers.hosts.HostActivity` of ``since``..``until``,
    read from the notifications.

    Error notifications are counted on ``notifications_errors`` (a few
    rows).  A project's notifications are grouped on its index.  Otherwise
    each host and service is read on the covering ``notifications_host``
    (host, service, timestamp): the pairs found by one seek each, then per
    pair a count of its index range and a seek to its newest entry, so a
    window costs the entries inside it (none outside), counted without
    leaving the index; a window holding every stored time is not compared
    at all.
    """
    where, args = [], []
    if project_id is not None:
        where.append('project_id = ?')
        args.append(project_id)
    window(where, args, 'timestamp', since, until)
    condition = ' AND '.join(where)
    errors = {(host, service): count for host, service, count in read(
        'SELECT host, service, count(*) FROM notifications INDEXED BY notifications_errors '
        'WHERE %s AND %s '
        'GROUP BY host, service' % (_ERRORS, condition), args)}
    if project_id is not None:
        rows = read('SELECT host, service, count(*), max(timestamp) FROM notifications '
                    'WHERE %s GROUP BY host, service' % condition, args)
    else:
        rows = _pair_activity(read, since, until)
    return [hosts_answer.HostActivity(host, service, count, errors.get((host, service), 0),
                                      timeutil.parse_iso(last))
            for host, service, count, last in rows]


def _pair_activity(read, since, until):
    """``(host, service, count, newest time)`` of each pair with notifications
    inside ``since``..``until``, on ``notifications_host``."""
    bounds, args = [], []
    oldest = read('SELECT timestamp FROM notifications ORDER BY timestamp LIMIT 1', [])
    newest = read('SELECT timestamp FROM notifications ORDER BY timestamp DESC LIMIT 1', [])
    if oldest and not (timeutil.iso(since) <= oldest[0][0]
                       and newest[0][0] <= timeutil.iso(until)):
        window(bounds, args, 'timestamp', since, until)
    inside = ''.join(' AND ' + b for b in bounds)
    for pair in _host_service_pairs(read):
        pair = list(pair)
        ((count,),) = read('SELECT count(*) FROM notifications INDEXED BY notifications_host '
                           'WHERE host IS ? AND service IS ?' + inside, pair + args)
        if count:
            ((last,),) = read('SELECT timestamp FROM notifications INDEXED BY notifications_host'
                              ' WHERE host IS ? AND service IS ?' + inside
                              + ' ORDER BY timestamp DESC LIMIT 1', pair + args)
            yield pair[0], pair[1], count, last


def _host_service_pairs(read):
    """Every stored ``(host, service)`` in index order (NULL first), one seek each."""
    first = 'SELECT host, service FROM notifications INDEXED BY notifications_host'
    rows = read(first + ' ORDER BY host, service LIMIT 1', [])
    while rows:
        host, service = rows[0]
        yield host, service
        same_host = (('host IS ? AND service > ?', [host, service]) if service is not None
                     else ('host IS ? AND service IS NOT NULL', [host]))
        later_host = ('host > ?', [host]) if host is not None else ('host IS NOT NULL', [])
        for condition, args in (same_host, later_host):
            rows = read(first + ' WHERE %s ORDER BY host, service LIMIT 1' % condition, args)
            if rows:
                break


def error_groups(read, since=None, until=None, project_id=None):
    """:class:`~nvs_notif.answers.errors.ErrorGroup` of ``since``..``until``: failed
    spans by when they finished, error notifications by their time, each grouped
    by host, service and error key; the whole hours from the rollups
    (``span_error_hours``, ``notification_error_hours``), the edges from the
    rows (:func:`_rows_error_groups`), added up per group."""
    window = sqlite_rollups.split(since, until)
    groups = []
    if window.hours is not None:
        for source, table in (('span', 'span_error_hours'),
                              ('notification', 'notification_error_hours')):
            where, args = [], []
            if project_id is not None:
                where.append('project_id = ?')
                args.append(project_id)
            sqlite_rollups.hour_filter(where, args, window)
            groups += [errors_answer.ErrorGroup(source, host or None, service or None,
                                                key or None, count, timeutil.parse_iso(first),
                                                timeutil.parse_iso(last))
                       for host, service, key, count, first, last in read(
                           'SELECT host, service, error_key, sum(%s), min(first), max(last) '
                           'FROM %s%s GROUP BY host, service, error_key' % (
                               'failures' if source == 'span' else 'errors', table,
                               ' WHERE ' + ' AND '.join(where) if where else ''), args)]
    for edge in window.edges:
        groups += _rows_error_groups(read, *edge, project_id)
    added = {}
    for g in groups:
        key = g[:4]
        if key in added:
            had = added[key]
            g = g._replace(count=g.count + had.count, first=min(g.first, had.first),
                           last=max(g.last, had.last))
        added[key] = g
    return list(added.values())


def _rows_error_groups(read, since=None, until=None, project_id=None):
    """:class:`~nvs_notif.answers.errors.ErrorGroup` of ``since``..``until``, read
    from the rows, each from its partial covering index (``spans_failed``,
    ``notifications_errors``: the failures only)."""
    sources = (('span', 'spans INDEXED BY spans_failed', ["status = 'failure'"], 'finished'),
               ('notification', 'notifications INDEXED BY notifications_errors', [_ERRORS],
                'timestamp'))
    groups = []
    for source, table, where, column in sources:
        args = []
        window(where, args, column, since, until)
        if project_id is not None:
            where.append('project_id = ?')
            args.append(project_id)
        groups += [errors_answer.ErrorGroup(source, host or None, service or None, key or None,
                                            count, timeutil.parse_iso(first),
                                            timeutil.parse_iso(last))
                   for host, service, key, count, first, last in read(
                       'SELECT host, service, error_key, count(*), min({0}), max({0}) '
                       'FROM {1} WHERE {2} GROUP BY host, service, error_key'.format(
                           column, table, ' AND '.join(where)), args)]
    return groups
