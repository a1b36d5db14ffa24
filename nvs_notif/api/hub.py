"""``POST /v1/hub``: the WebSub hub's subscription endpoint (W3C WebSub 5.1),
co-hosted with the API, behind the same authentication.

A form-encoded ``hub.mode`` (subscribe/unsubscribe), ``hub.topic`` (a feed
URL of this API, :mod:`nvs_notif.feeds.topics`), ``hub.callback``,
``hub.lease_seconds`` and ``hub.secret``.  Answered at once: 401 without a
valid token (keystonemiddleware), 400 for a bad request (``hub.secret``
over plain HTTP included), 403 when the token may not read the topic's
project (the feeds' rule: a reader or member of that project, or an admin
for every project or another one; the same answer whether that project
exists or not), else 202, and the intent is kept for the hub process to
verify at the callback (``nvs-notif-hub``, :mod:`nvs_notif.api.hub_service`).
A renewal is a new subscribe, so it is checked again.  The token's user and
project are kept with the subscription.  Errors are plain text, as WebSub
asks of hubs (5.1.2).
"""
import threading

import flask

from nvs_notif.api import errors
from nvs_notif.api import feeds
from nvs_notif.api import scope
from nvs_notif.api import state
from nvs_notif.feeds import topics
from nvs_notif.websub import hub as hub_mod
from nvs_notif.websub import outbound
from nvs_notif.websub import store as hub_store
from nvs_notif.websub import subscriptions

blueprint = flask.Blueprint('hub', __name__)

RULE = 'nvs:hub:subscribe'
_KEY = 'nvs_notif.hub'
_LOCK = threading.Lock()


def make_hub(conf, store):
    """The hub over ``store``'s state, configured by ``conf``'s ``[websub]``."""
    return hub_mod.Hub(hub_store.hub_store_of(store), outbound.Policy.from_conf(conf.websub),
                       hub_mod.Settings.from_conf(conf.websub))


def _hub():
    # Made at the first request: opening the hub's tables or indices is a
    # write an API that never serves the hub need not make.
    app = flask.current_app
    with _LOCK:
        if _KEY not in app.extensions:
            res = state.current()
            app.extensions[_KEY] = make_hub(res.conf, res.store)
        return app.extensions[_KEY]


def _text(code, message):
    return flask.Response(message + '\n', status=code, content_type='text/plain; charset=utf-8')


@blueprint.errorhandler(errors.ApiError)
def _refused(error):
    return _text(error.code, error.message)


@blueprint.post(topics.HUB_PATH[len('/v1'):])
def subscription_request():
    ctx = scope.request_context()
    base = feeds.base_url()

    def allowed(url):
        try:
            topic = topics.parse(url, base)
        except topics.InvalidTopic:
            return False
        scope.authorize(topic.project_id, RULE, ctx)
        return True

    try:
        _hub().request(flask.request.form.to_dict(flat=False), allowed,
                       secure=flask.request.scheme == 'https', user_id=ctx.user_id,
                       project_id=ctx.project_id)
    except subscriptions.InvalidRequest as exc:
        return _text(400, str(exc))
    return flask.Response(status=202)
