"""The Atom 1.0 feeds (:mod:`nvs_notif.feeds`) under the same authentication
and policy as the other ``/v1`` routes: ``/v1/feeds/notifications`` and
``/v1/feeds/spans`` (the finished spans: a failed create with its exception),
per project (all projects for admins), filtered by service, event type or
operation, priority or outcome (the errors feeds).

Each is its topic's subscription document: the newest ``limit`` entries,
``self`` the topic's canonical URL (:mod:`nvs_notif.feeds.topics`), and a
``prev-archive`` link to RFC 5005 archive pages
(``/v1/feeds/{kind}/archive?<topic>&marker=M``, :mod:`nvs_notif.feeds.archive`)
that never change: notifications in ingest order (the store's ingest
marker, :meth:`~nvs_notif.storage.base.Store.ingest_page`), spans by
``(finished, span_id)`` (:meth:`~nvs_notif.storage.base.Store.finished_spans`),
a page served only once settled (``[api] archive_settle_seconds``).
Notification entries carry a ``src`` link to the notification's JSON
document; span entries carry their facts as text.  Every document links
the hub of ``POST /v1/hub`` (``rel="hub"``, and in the ``Link`` header;
:mod:`nvs_notif.api.hub`).
"""
import base64
import binascii
import datetime

import flask

from nvs_notif.api import errors
from nvs_notif.api import params
from nvs_notif.api import scope
from nvs_notif.api import state
from nvs_notif.feeds import archive
from nvs_notif.feeds import atom
from nvs_notif.feeds import entries
from nvs_notif.feeds import topics
from nvs_notif.notification import PRIORITIES
from nvs_notif.storage import base as store_base
from nvs_notif import timeutil

blueprint = flask.Blueprint('feeds', __name__)

_KIND = '<any(notifications, spans):kind>'


def _topic(kind, args):
    """The topic a request names (400 for a bad filter, 403 for a project
    the token may not read)."""
    project = scope.project(args, 'nvs:feeds:get')
    if kind == 'notifications':
        return topics.Topic(kind, project,
                            service=params.ident('service', args.get('service')),
                            event_type=params.ident('event_type', args.get('event_type')),
                            priority=params.choice('priority', args.get('priority'),
                                                   PRIORITIES))
    return topics.Topic(kind, project,
                        service=params.ident('service', args.get('service')),
                        operation=params.ident('operation', args.get('operation')),
                        outcome=params.choice('outcome', args.get('outcome'), topics.OUTCOMES))


def _items(topic, limit, before=None):
    """``archive.Item``s of the topic's entries, newest first, from the
    marker ``before`` (included) or the newest."""
    store = state.current().store
    inclusive = before is not None
    if topic.kind == 'spans':
        return [archive.Item(position, entries.span_entry(span))
                for position, span in store.finished_spans(
                    limit, before, project_id=topic.project_id, service=topic.service,
                    operation=topic.operation, status=topic.outcome, inclusive=inclusive)]
    scope_args = ({'all_projects': 'true'} if topic.project_id is None
                  else {'project_id': topic.project_id})
    return [archive.Item(marker, entries.notification_entry(doc, json_url=flask.url_for(
        'notifications.show_notification', message_id=doc['message_id'], _external=True,
        **scope_args)))
        for marker, doc in store.ingest_page(
            limit, before, inclusive, project_id=topic.project_id, service=topic.service,
            event_type=topic.event_type,
            priorities=[topic.priority] if topic.priority else None)]


def _settled(kind):
    """``settled(marker)``: whether nothing can still land at or before it.

    Spans: finished more than ``[api] archive_settle_seconds`` ago (late
    notifications may still finish a span at an earlier time until then).
    Notifications: at or before the store's newest marker of that age
    (SQLite's rowids are final at once; a search engine's stamps once its
    writes are searchable).
    """
    res = state.current()
    settle = res.conf.api.archive_settle_seconds
    if kind == 'spans':
        cutoff = timeutil.utcnow() - datetime.timedelta(seconds=settle)
        return lambda position: timeutil.parse_iso(
            store_base.split_position(position)[0]) <= cutoff
    newest = res.store.ingest_marker(settle)
    return lambda marker: marker <= newest


def _feed(topic):
    base = base_url()
    return atom.Feed(topic.url(base), topic.title, topics.hub_url(base))


def base_url():
    """The URL ``/v1`` is under, with the prefix the API is served at (devstack
    mounts it at ``/nvs-notif``): topic URLs are the ones clients fetch."""
    root = flask.request.url_root.rstrip('/')
    return root[:-len('/v1')] if root.endswith('/v1') else root


def marker_text(marker):
    """The ``marker`` of an archive page URL: the store's marker, URL-safe."""
    return base64.urlsafe_b64encode(marker.encode('utf-8', 'surrogatepass')).decode().rstrip('=')


def _marker(text):
    """The store's marker of a ``marker``; 400 for one this API did not make."""
    try:
        return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4)).decode('utf-8')
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_marker() from None


def _bad_marker():
    return errors.BadRequest('marker is not one of this API\'s archive links')


def archive_url(topic_url, marker):
    """The URL of the archive page of ``marker``: the topic's path with
    ``/archive``, its query and the marker."""
    path, _, query = topic_url.partition('?')
    return '%s/archive?%s&marker=%s' % (path, query, marker_text(marker))


def _atom_response(topic, page, self_url=None):
    feed = _feed(topic)
    prev = archive_url(feed.topic, page.prev_marker) if page.prev_marker else None
    body = atom.document(feed, [item.entry for item in page.items], self_url=self_url,
                         prev_archive=prev, archive=self_url is not None)
    return flask.Response(body, content_type=atom.CONTENT_TYPE,
                          headers={'Link': atom.link_header(feed, self_url)})


@blueprint.get('/feeds/' + _KIND)
def feed(kind):
    args = params.query(topics.FILTERS[kind] + ('limit',) + scope.PARAMS)
    topic = _topic(kind, args)
    limit = params.page_limit(args, state.current().conf.api)
    # Read past the entries shown, so that a settled boundary is found
    # among them (RFC 5005: the subscription document links the newest
    # archive page).
    items = _items(topic, limit + 4 * archive.PAGE_SIZE)
    return _atom_response(topic, archive.current_page(items, _settled(kind),
                                                      max_entries=limit))


@blueprint.get('/feeds/%s/archive' % _KIND)
def feed_archive(kind):
    args = params.query(topics.FILTERS[kind] + ('marker',) + scope.PARAMS)
    topic = _topic(kind, args)
    if args.get('marker') is None:
        raise errors.BadRequest('marker is required: follow a prev-archive link')
    marker = _marker(args['marker'])
    try:
        items = _items(topic, archive.MAX_ENTRIES + 1, marker)
        settled = _settled(kind)(marker)
    except ValueError:
        raise _bad_marker() from None
    if not settled:
        raise errors.NotFound('No such archive page (yet): follow a prev-archive link.')
    page = archive.archive_page(items, marker=marker)
    if not page.items and page.prev_marker is None:
        raise errors.NotFound('No such archive page: its entries have expired.')
    return _atom_response(topic, page, archive_url(topic.url(base_url()), marker))
