"""What a running API holds: its configuration, its store, its policy
enforcer and the stuck limits of its configuration, made once per process
(the API keeps nothing else: any number of processes can serve behind a
balancer)."""
import dataclasses

import flask

#: The key of :class:`Resources` in the Flask apps' ``extensions``.
KEY = 'nvs_notif'


@dataclasses.dataclass(frozen=True)
class Resources:
    conf: object        # oslo_config.cfg.ConfigOpts
    store: object       # nvs_notif.storage.base.Store
    enforcer: object    # oslo_policy.policy.Enforcer
    stuck_policy: object    # nvs_notif.spans.StuckPolicy of conf's [nvs]


def current():
    """The :class:`Resources` of the app serving this request."""
    return flask.current_app.extensions[KEY]
