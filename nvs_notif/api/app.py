"""The WSGI application: the versions document at ``/``, oslo.middleware's
health check at ``/healthcheck`` (both outside authentication) and ``/v1``
behind keystonemiddleware's ``auth_token``, all behind the standard
OpenStack middleware declared in :data:`PIPELINE`.
"""
import flask
from keystonemiddleware import auth_token
from oslo_middleware import catch_errors
from oslo_middleware import cors
from oslo_middleware import healthcheck
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
from werkzeug.middleware import dispatcher

from nvs_notif.answers import stuck as stuck_answer
from nvs_notif.api import answers
from nvs_notif.api import errors
from nvs_notif.api import feeds
from nvs_notif.api import hub
from nvs_notif.api import notifications
from nvs_notif.api import policies
from nvs_notif.api import scope
from nvs_notif.api import state
from nvs_notif.api import versions
from nvs_notif.api import views
from nvs_notif import opts
from nvs_notif import storage

#: The middleware every request meets, outermost first: ``(name, factory(app, conf))``.
PIPELINE = (
    ('catch_errors', lambda app, conf: catch_errors.CatchErrors(app)),
    ('http_proxy_to_wsgi', http_proxy_to_wsgi.HTTPProxyToWSGI),
    ('cors', cors.CORS),
    ('request_id', lambda app, conf: request_id.RequestId(app)),
)


def keystone_auth(app, conf):
    """keystonemiddleware's ``auth_token`` over ``app``, configured by ``conf``'s
    ``[keystone_authtoken]``: it strips identity headers a client sent, and
    refuses (401) a request whose token it cannot validate."""
    return auth_token.AuthProtocol(app, {'oslo_config_config': conf})


def _flask_app(name, blueprints, resources):
    app = flask.Flask(name)
    app.json = views.JSONProvider(app)
    app.extensions[state.KEY] = resources
    errors.register(app)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


def make_app(conf, store=None, auth=keystone_auth, enforcer=None):
    """The whole WSGI application.

    :param conf: the API's ConfigOpts (:func:`nvs_notif.api.config.load_conf`)
    :param store: the store to answer from (default: ``[api] store`` opened
        with ``conf``'s credentials)
    :param auth: ``auth(app, conf)``, the authentication middleware of ``/v1``
    :param enforcer: the policy enforcer (default: over ``conf``)
    """
    if store is None:
        if not conf[opts.API_GROUP].store:
            raise ValueError('[%s] store is not set' % opts.API_GROUP)
        store = storage.get_store(conf[opts.API_GROUP].store, conf)
    resources = state.Resources(conf, store, enforcer or policies.make_enforcer(conf),
                                stuck_answer.policy_of(conf))
    v1 = _flask_app('nvs_notif.api.v1', (notifications.blueprint, answers.blueprint,
                                         feeds.blueprint, hub.blueprint), resources)
    v1.before_request(scope.require_identity)
    root = _flask_app('nvs_notif.api', (versions.blueprint,), resources)
    app = dispatcher.DispatcherMiddleware(root, {
        '/v1': auth(v1, conf),
        '/healthcheck': healthcheck.Healthcheck(None, conf),
    })
    for _name, factory in reversed(PIPELINE):
        app = factory(app, conf)
    return app
