"""The search-engine stores' read side, written once for Elasticsearch and
OpenSearch: the notification listing's query, and the aggregations of
``errors`` and ``hosts`` (composite aggregations, paged by their
``after_key``), with only one row per group crossing into Python.

Times: ``date`` fields keep milliseconds, the stored ISO text keeps
microseconds.  Windows are a ``date`` range (served by its points) with the
sub-millisecond rest at each end taken off on the exact text (``.exact``, a
keyword: UTC ISO texts sort as the times do), and first/last times are the
exact text of the first/last document (``top_hits`` sorted on it, over the
documents of the edge's millisecond alone for ``hosts``: :func:`exact_edges`),
so the answers are those of SQLite to the microsecond.
"""
import collections
import datetime

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import hosts as hosts_answer
from nvs_notif import timeutil

#: Buckets per composite aggregation request.
GROUPS_PAGE = 1000
_MS = datetime.timedelta(milliseconds=1)


def terms(**fields):
    """``term`` filters of the fields given a value."""
    return [{'term': {f: v}} for f, v in fields.items() if v is not None]


def before_position(first, second, position, inclusive=False):
    """Documents whose ``(first, second)`` sorts before ``position`` (or at
    it, ``inclusive``), both keywords: what a descending listing reads on
    from (a ``search_after`` that can take the position itself too)."""
    at, then = position
    return {'bool': {'minimum_should_match': 1, 'should': [
        {'range': {first: {'lt': at}}},
        {'bool': {'filter': [{'term': {first: at}},
                             {'range': {second: {'lte' if inclusive else 'lt': then}}}]}}]}}


def bool_filter(filters):
    return {'bool': {'filter': filters}} if filters else {'match_all': {}}


def date_range(since, until):
    """The bounds of a ``range`` filter (coarse: the engine compares milliseconds)."""
    window = {}
    if since is not None:
        window['gte'] = timeutil.iso(since)
    if until is not None:
        window['lte'] = timeutil.iso(until)
    return window


def _floor_ms(when):
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def exact_window(field, since, until):
    """Filters of the documents whose ``field`` is inside ``since``..``until``
    (aware datetimes or None, inclusive) to the microsecond."""
    if since is None and until is None:
        return []
    rest = []
    if since is not None:
        # The engine compares since's millisecond: take off what is before since in it.
        rest.append({'range': {field + '.exact': {'gte': timeutil.iso(_floor_ms(since)),
                                                  'lt': timeutil.iso(since)}}})
    if until is not None:
        try:
            # The engine compares until's millisecond: take off what is after until in it.
            rest.append({'range': {field + '.exact': {
                'gt': timeutil.iso(until), 'lt': timeutil.iso(_floor_ms(until) + _MS)}}})
        except OverflowError:
            pass    # until is the last millisecond of time: nothing is after it
    return [{'range': {field: date_range(since, until)}}, {'bool': {'must_not': rest}}]


def notification_filters(request_ids=None, project_id=None, user_id=None, resource_id=None,
                         since=None, until=None, priorities=None, host=None, service=None,
                         event_type=None, request=None, message_id=None):
    """The filters of :meth:`nvs_notif.storage.base.Store.notifications`' arguments."""
    filters = terms(project_id=project_id, user_id=user_id, resource_id=resource_id,
                    host=host, service=service, message_id=message_id)
    for field, values in (('request_id', request_ids), ('priority', priorities)):
        if values is not None:
            filters.append({'terms': {field: list(values)}})
    if request is not None:
        filters.append({'bool': {'minimum_should_match': 1, 'should': terms(
            request_id=request, global_request_id=request)}})
    if event_type:
        filters.append({'prefix': {'event_type': event_type}})
    window = date_range(since, until)
    if window:
        filters.append({'range': {'timestamp': window}})
    return filters


def listing(filters, oldest_first=False, after=None, fields=None):
    """The search body of a notification listing in ``(timestamp, message_id)`` order.

    :param after: ``(timestamp ISO text, message_id)``: only what follows it
    :param fields: the ``_source`` fields to return (None: all); the page
        key's are always returned
    """
    order = 'asc' if oldest_first else 'desc'
    filters = list(filters)
    if after is not None:
        beyond = 'gt' if oldest_first else 'lt'
        stamp, message_id = after
        filters.append({'bool': {'minimum_should_match': 1, 'should': [
            {'range': {'timestamp.exact': {beyond: stamp}}},
            {'bool': {'filter': [{'term': {'timestamp.exact': stamp}},
                                 {'range': {'message_id': {beyond: message_id}}}]}}]}})
    # timestamp.exact: indices made before it existed sort as if it were
    # missing (ties by message_id, as before).
    body = {'query': bool_filter(filters),
            'sort': [{'timestamp': order},
                     {'timestamp.exact': {'order': order, 'unmapped_type': 'keyword'}},
                     {'message_id': order}]}
    if fields is not None:
        body['_source'] = sorted({'timestamp', 'message_id', *fields})
    return body


#: The aggregation of a group's first (``asc``) or last (``desc``) millisecond.
_BOUND = {'asc': 'min', 'desc': 'max'}


def _bound(field, order):
    """A sub-aggregation: the millisecond of the group's first (``asc``) or last
    (``desc``) ``field`` (the engines' ``date``), refined by :func:`exact_edges`."""
    return {_BOUND[order]: {'field': field}}


def _edge(field, order):
    """A sub-aggregation: the first (``asc``) or last (``desc``) exact ``field`` text."""
    return {'top_hits': {'size': 1, '_source': [field],
                         'sort': [{field + '.exact': {'order': order,
                                                      'unmapped_type': 'keyword'}}]}}


def _edge_time(bucket, name, field):
    """The time of the :func:`_edge` ``name`` of ``bucket``."""
    return timeutil.parse_iso(bucket[name]['hits']['hits'][0]['_source'][field])


def exact_edges(search, index, query, keys, buckets, edges):
    """The exact first or last times of the groups of composite ``buckets``
    (of :func:`groups` over ``keys``).

    Each bucket holds, under each name of ``edges`` (``{name: (field,
    order)}``), its :func:`_bound`: the edge's millisecond.  The exact time is
    the ``.exact`` text of the group's first (``asc``) or last (``desc``)
    document among the documents of those milliseconds alone (a ``date`` is
    a millisecond, which a ``terms`` query matches): a few per group, where a
    ``top_hits`` in the first composite sorted every document of every group
    (most of the engine's time of ``hosts`` over a whole history).

    :returns: ``[{name: aware datetime}]`` in the order of ``buckets``
    """
    if not buckets:
        return []
    edge_ms = collections.defaultdict(set)
    for name, (field, _order) in edges.items():
        edge_ms[field].update(int(b[name]['value']) for b in buckets)
    narrowed = {'bool': {'filter': [query], 'minimum_should_match': 1, 'should': [
        {'terms': {field: sorted(ms)}} for field, ms in edge_ms.items()]}}
    found = {tuple(b['key'][k] for k in keys): {
                 name: _edge_time(b, name, field) for name, (field, _order) in edges.items()}
             for b in groups(search, index, narrowed, keys,
                             {name: _edge(*edge) for name, edge in edges.items()})}
    return [found[tuple(b['key'][k] for k in keys)] for b in buckets]


def groups(search, index, query, keys, aggs):
    """Every bucket of a composite aggregation of ``query`` over the ``keys``
    fields (missing values are a bucket), each with the sub-aggregations ``aggs``.

    :param search: ``search(index, body)`` of the engine
    """
    sources = [{k: {'terms': {'field': k, 'missing_bucket': True}}} for k in keys]
    after = None
    while True:
        composite = {'size': GROUPS_PAGE, 'sources': sources}
        if after is not None:
            composite['after'] = after
        body = {'size': 0, 'query': query,
                'aggs': {'groups': {'composite': composite, 'aggs': aggs}}}
        result = search(index, body).get('aggregations', {}).get('groups', {})
        buckets = result.get('buckets', ())
        yield from buckets
        after = result.get('after_key')
        if not more_pages(after, buckets, GROUPS_PAGE):
            return


def more_pages(after_key, buckets, size):
    """Whether a composite aggregation of page ``size`` has buckets past the
    page that answered ``after_key`` and ``buckets``: a page holds ``size``
    buckets unless it is the last, so a short page ends the listing without
    the request of an empty one (a second pass over every matching document)."""
    return after_key is not None and len(buckets) == size


def host_activity(search, index, since, until, project_id=None):
    """:class:`~nvs_notif.answers.hosts.HostActivity` of ``since``..``until``."""
    query = bool_filter(terms(project_id=project_id) + exact_window('timestamp', since, until))
    aggs = {'errors': {'filter': {'terms': {'priority': list(errors_answer.PRIORITIES)}}},
            'last': _bound('timestamp', 'desc')}
    found = list(groups(search, index, query, ('host', 'service'), aggs))
    edges = exact_edges(search, index, query, ('host', 'service'), found,
                        {'last': ('timestamp', 'desc')})
    return [hosts_answer.HostActivity(b['key']['host'], b['key']['service'], b['doc_count'],
                                      b['errors']['doc_count'], edge['last'])
            for b, edge in zip(found, edges)]


def error_groups(search, layout, since=None, until=None, project_id=None):
    """:class:`~nvs_notif.answers.errors.ErrorGroup` of ``since``..``until``: failed
    spans by when they finished, error notifications by their time, each grouped
    by host, service and error key.

    :param layout: the store's :class:`~nvs_notif.storage.search.IndexLayout`
    """
    sources = (('span', layout.index('spans'), [{'term': {'status': 'failure'}}], 'finished'),
               ('notification', layout.alias('notifications'),
                [{'terms': {'priority': list(errors_answer.PRIORITIES)}}], 'timestamp'))
    found = []
    for source, index, filters, field in sources:
        query = bool_filter(filters + terms(project_id=project_id)
                            + exact_window(field, since, until))
        # top_hits in the composite: error documents are a small part of the
        # history, and exact_edges was no faster on them at 1M.
        aggs = {'first': _edge(field, 'asc'), 'last': _edge(field, 'desc')}
        found += [errors_answer.ErrorGroup(
            source, b['key']['host'], b['key']['service'], b['key']['error_key'],
            b['doc_count'], _edge_time(b, 'first', field), _edge_time(b, 'last', field))
            for b in groups(search, index, query, ('host', 'service', 'error_key'), aggs)]
    return found
