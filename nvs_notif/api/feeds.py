"""``/v1/feeds/notifications``: a project's notifications as an Atom 1.0 feed
(:mod:`nvs_notif.feeds`), under the same authentication and policy as
``/v1/notifications``.

The document is the topic's subscription document: its newest ``limit``
entries, ``self`` the topic's canonical URL (:mod:`nvs_notif.feeds.topics`),
each entry's content a ``src`` link to the notification's JSON document.
Not served yet: ``rel="hub"`` (the hub's routes), the spans feed and the
RFC 5005 archive pages (they need an ingest marker from the stores).
"""
import flask

from nvs_notif.api import params
from nvs_notif.api import scope
from nvs_notif.api import state
from nvs_notif.feeds import atom
from nvs_notif.feeds import entries
from nvs_notif.feeds import topics
from nvs_notif.notification import PRIORITIES

blueprint = flask.Blueprint('feeds', __name__)

_PARAMS = ('service', 'event_type', 'priority', 'limit') + scope.PARAMS


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
    feed = atom.Feed(topic.url(_base()), topic.title)
    body = atom.document(feed, [entries.notification_entry(d, json_url=flask.url_for(
        'notifications.show_notification', message_id=d['message_id'], _external=True,
        **({'all_projects': 'true'} if project is None else {'project_id': project})))
        for d in docs])
    return flask.Response(body, content_type=atom.CONTENT_TYPE,
                          headers={'Link': atom.link_header(feed)})


def _base():
    """The URL ``/v1`` is under, with the prefix the API is served at (devstack
    mounts it at ``/nvs-notif``): topic URLs are the ones clients fetch."""
    root = flask.request.url_root.rstrip('/')
    return root[:-len('/v1')] if root.endswith('/v1') else root
