"""The SQLite store's read side: notification listings read in pages, and the
aggregations of ``errors`` and ``hosts`` in SQL.

Every function takes ``read(sql, args)``, which runs one statement under the
store's lock and returns its rows, so a listing never holds the connection
between pages.
"""
import json

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import hosts as hosts_answer
from nvs_notif import timeutil

#: Notifications read per statement of a listing.
PAGE = 1000
_PRIORITIES = ', '.join("'%s'" % p for p in errors_answer.PRIORITIES)


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
                        event_type=None, request=None):
    """``(where clauses, args)`` of :meth:`nvs_notif.storage.base.Store.notifications`' filters."""
    where, args = [], []
    for column, value in (('project_id', project_id), ('user_id', user_id),
                          ('resource_id', resource_id), ('host', host), ('service', service)):
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


def notification_pages(read, where, args, limit=None, oldest_first=False, after=None):
    """The documents ``where`` selects, in ``(timestamp, message_id)`` order,
    read :data:`PAGE` at a time, each page after the last one's key (the
    unique index on that key serves it)."""
    order = 'ASC' if oldest_first else 'DESC'
    beyond = '(timestamp, message_id) %s (?, ?)' % ('>' if oldest_first else '<')
    left = limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        clauses, values = list(where), list(args)
        if after is not None:
            clauses.append(beyond)
            values += list(after)
        sql = 'SELECT timestamp, message_id, doc FROM notifications'
        if clauses:
            sql += ' WHERE ' + ' AND '.join(clauses)
        sql += ' ORDER BY timestamp %s, message_id %s LIMIT ?' % (order, order)
        rows = read(sql, values + [size])
        for _timestamp, _message_id, doc in rows:
            yield json.loads(doc)
        if len(rows) < size:
            return
        after = rows[-1][:2]
        if left is not None:
            left -= len(rows)


def host_activity(read, since, until, project_id=None):
    """:class:`~nvs_notif.answers.hosts.HostActivity` of ``since``..``until``.

    Two statements, each served by an index: every notification by host and
    service (``notifications_host``, covering), and the error ones
    (``notifications_priority``, a few rows)."""
    where, args = [], []
    if project_id is not None:
        where.append('project_id = ?')
        args.append(project_id)
    window(where, args, 'timestamp', since, until)
    condition = ' AND '.join(where)
    errors = {(host, service): count for host, service, count in read(
        'SELECT host, service, count(*) FROM notifications WHERE priority IN (%s) AND %s '
        'GROUP BY host, service' % (_PRIORITIES, condition), args)}
    return [hosts_answer.HostActivity(host, service, count, errors.get((host, service), 0),
                                      timeutil.parse_iso(last))
            for host, service, count, last in read(
                'SELECT host, service, count(*), max(timestamp) FROM notifications WHERE %s '
                'GROUP BY host, service' % condition, args)]
