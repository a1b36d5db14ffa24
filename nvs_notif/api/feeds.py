"""The Atom 1.0 feeds (:mod:`nvs_notif.feeds`) under the same authentication
and policy as the other ``/v1`` routes: ``/v1/feeds/notifications`` and
``/v1/feeds/spans`` (the finished spans: a failed create with its exception),
per project (all projects for admins), filtered by service, operation or
event type, priority or outcome (the errors feeds).

Each is its topic's subscription document: the newest ``limit`` entries,
``self`` the topic's canonical URL (:mod:`nvs_notif.feeds.topics`).  The
spans feed links RFC 5005 archive pages (``prev-archive``, served by
``/v1/feeds/spans/archive``): marker-based, ordered by ``(finished,
span_id)``, a page only once every span it holds finished more than
``[api] archive_settle_seconds`` ago, so the same URL is the same bytes.
Notification entries carry a ``src`` link to the notification's JSON
document; span entries carry their facts as text.
Every document links the hub of ``POST /v1/hub`` (``rel="hub"``, and in the
``Link`` header; :mod:`nvs_notif.api.hub`).  Not served yet: the
notifications' archive pages.
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

_PARAMS = ('service', 'event_type', 'priority', 'limit') + scope.PARAMS
_SPAN_FILTERS = ('service', 'operation', 'outcome')


@blueprint.get('/feeds/notifications')
def notifications_feed():
    args = params.query(_PARAMS)
    project = scope.project(args, 'nvs:feeds:get')
    res = state.current()
    limit = params.page_limit(args, res.conf.api)
    topic = topics.Topic('notifications', project,
                         service=params.ident('service', args.get('service')),
                         event_type=params.ident('event_type', args.get('event_type')),
                         priority=params.choice('priority', args.get('priority'), PRIORITIES))
    docs, _ = res.store.notification_page(
        limit, project_id=project, service=topic.service, event_type=topic.event_type,
        priorities=[topic.priority] if topic.priority else None)
    feed = _feed(topic)
    body = atom.document(feed, [entries.notification_entry(d, json_url=flask.url_for(
        'notifications.show_notification', message_id=d['message_id'], _external=True,
        **({'all_projects': 'true'} if project is None else {'project_id': project})))
        for d in docs])
    return flask.Response(body, content_type=atom.CONTENT_TYPE,
                          headers={'Link': atom.link_header(feed)})


def _feed(topic):
    base = base_url()
    return atom.Feed(topic.url(base), topic.title, topics.hub_url(base))


def base_url():
    """The URL ``/v1`` is under, with the prefix the API is served at (devstack
    mounts it at ``/nvs-notif``): topic URLs are the ones clients fetch."""
    root = flask.request.url_root.rstrip('/')
    return root[:-len('/v1')] if root.endswith('/v1') else root


def _span_topic(args):
    """The spans topic of a request (400 for a bad filter) and its project."""
    project = scope.project(args, 'nvs:feeds:get')
    return topics.Topic('spans', project,
                        service=params.ident('service', args.get('service')),
                        operation=params.ident('operation', args.get('operation')),
                        outcome=params.choice('outcome', args.get('outcome'), topics.OUTCOMES))


def _finished_spans(topic, limit, before=None):
    """``archive.Item``s of the topic's finished spans, newest first, marked
    by their position."""
    found = state.current().store.finished_spans(
        limit, before, project_id=topic.project_id, service=topic.service,
        operation=topic.operation, status=topic.outcome, inclusive=before is not None)
    return [archive.Item(position, entries.span_entry(span)) for position, span in found]


def _settled(now):
    """Whether no span can still finish at or before a position: it is older
    than ``[api] archive_settle_seconds`` (late notifications land in time)."""
    cutoff = now - datetime.timedelta(seconds=state.current().conf.api.archive_settle_seconds)
    return lambda position: timeutil.parse_iso(store_base.split_position(position)[0]) <= cutoff


def marker_text(position):
    """The ``marker`` of an archive page URL: the position, URL-safe."""
    return base64.urlsafe_b64encode(position.encode('utf-8', 'surrogatepass')).decode().rstrip('=')


def marker_position(text):
    """The position of a ``marker``; 400 for one this API did not make."""
    try:
        position = base64.urlsafe_b64decode(text + '=' * (-len(text) % 4)).decode('utf-8')
        store_base.split_position(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.BadRequest('marker is not one of this API\'s archive links') from None
    return position


def archive_url(topic_url, position):
    """The URL of the archive page of ``position``: the topic's path with
    ``/archive``, its query and the marker."""
    path, _, query = topic_url.partition('?')
    return '%s/archive?%s&marker=%s' % (path, query, marker_text(position))


def _atom_response(topic, page, self_url=None):
    feed = _feed(topic)
    prev = archive_url(feed.topic, page.prev_marker) if page.prev_marker else None
    body = atom.document(feed, [item.entry for item in page.items], self_url=self_url,
                         prev_archive=prev, archive=self_url is not None)
    return flask.Response(body, content_type=atom.CONTENT_TYPE,
                          headers={'Link': atom.link_header(feed, self_url)})


@blueprint.get('/feeds/spans')
def spans_feed():
    args = params.query(_SPAN_FILTERS + ('limit',) + scope.PARAMS)
    topic = _span_topic(args)
    limit = params.page_limit(args, state.current().conf.api)
    # Read past the entries shown, so that a settled boundary is found
    # among them (RFC 5005: the subscription document links the newest
    # archive page).
    items = _finished_spans(topic, limit + 4 * archive.PAGE_SIZE)
    return _atom_response(topic, archive.current_page(items, _settled(timeutil.utcnow()),
                                                      max_entries=limit))


@blueprint.get('/feeds/spans/archive')
def spans_archive():
    args = params.query(_SPAN_FILTERS + ('marker',) + scope.PARAMS)
    topic = _span_topic(args)
    if args.get('marker') is None:
        raise errors.BadRequest('marker is required: follow a prev-archive link')
    position = marker_position(args['marker'])
    if not _settled(timeutil.utcnow())(position):
        raise errors.NotFound('No such archive page (yet): follow a prev-archive link.')
    page = archive.archive_page(_finished_spans(topic, archive.MAX_ENTRIES + 1, position),
                                marker=position)
    if not page.items and page.prev_marker is None:
        raise errors.NotFound('No such archive page: its entries have expired.')
    return _atom_response(topic, page, archive_url(topic.url(base_url()), position))
