"""``/v1/notifications``: stored notifications, newest first, paged by the store
(``limit`` + ``marker``, the API-SIG way, with a ``next`` link).

The marker is opaque to clients: the position (timestamp, message id) of the
last notification of the previous page, which the store reads on from. It
names no project, so a marker, whoever's page it came from, only ever pages
through the caller's own notifications.
"""
import base64
import binascii
import json

import flask

from nvs_notif.api import errors
from nvs_notif.api import params
from nvs_notif.api import scope
from nvs_notif.api import state
from nvs_notif import timeutil

blueprint = flask.Blueprint('notifications', __name__)

#: Query filter -> the store's notifications() argument (``event_type``: a prefix).
FILTERS = {'event_type': 'event_type', 'service': 'service', 'host': 'host',
           'request_id': 'request', 'resource': 'resource_id'}
_LIST_PARAMS = tuple(FILTERS) + ('since', 'until', 'limit', 'marker') + scope.PARAMS


def marker_text(position):
    """The marker of a page that ends at ``position`` ``(timestamp, message_id)``."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip('=')


def marker_position(text):
    """The ``(timestamp, message_id)`` of a marker; 400 for one this API did not make."""
    try:
        stamp, message_id = json.loads(base64.urlsafe_b64decode(text + '=' * (-len(text) % 4)))
        timeutil.parse_iso(stamp)
        if not (isinstance(message_id, str) and message_id):
            raise ValueError(message_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise errors.BadRequest('marker is not one of this API\'s next links') from None
    return stamp, message_id


@blueprint.get('/notifications')
def list_notifications():
    args = params.query(_LIST_PARAMS)
    project = scope.project(args, 'nvs:notifications:list')
    res = state.current()
    limit = params.page_limit(args, res.conf.api)
    since, until = params.window(args, timeutil.utcnow())
    filters = {field: params.ident(name, args.get(name)) for name, field in FILTERS.items()}
    marker = params.ident('marker', args.get('marker'))
    docs, after = res.store.notification_page(
        limit, marker=marker_position(marker) if marker else None, project_id=project,
        since=since, until=until, **filters)
    body = {'notifications': docs, 'links': []}
    if after is not None:
        args['marker'] = marker_text(after)
        body['links'].append({'rel': 'next', 'href': flask.url_for(
            'notifications.list_notifications', _external=True, **args)})
    return body


@blueprint.get('/notifications/<message_id>')
def show_notification(message_id):
    args = params.query(scope.PARAMS)
    project = scope.project(args, 'nvs:notifications:get')
    found = list(state.current().store.notifications(
        message_id=params.ident('message_id', message_id), project_id=project, limit=1))
    if not found:
        raise errors.NotFound('No such notification.')
    return {'notification': found[0]}
