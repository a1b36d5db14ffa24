"""What the hub asks Keystone: whether a project is still enabled.

``identity.project.updated`` does not say what changed (keystone puts no
``enabled`` in any payload, :mod:`nvs_notif.feeds.revocations`), so the hub
reads the project (``GET /v3/projects/{id}``) with credentials of its own:
the ``[keystone]`` group, keystoneauth1's auth, session and adapter options
(a system-scoped ``reader`` or an ``admin``: keystone's ``identity:get_project``
refuses the ``service`` role the token validation user has).
"""
import logging
import urllib.parse

from keystoneauth1 import exceptions
from keystoneauth1 import loading

LOG = logging.getLogger(__name__)

GROUP = 'keystone'


def register_opts(conf):
    loading.register_auth_conf_options(conf, GROUP)
    loading.register_session_conf_options(conf, GROUP)
    loading.register_adapter_conf_options(conf, GROUP)


def list_opts():
    """For oslo-config-generator: the group's session and adapter options,
    ``auth_type``/``auth_section`` and the password plugin's."""
    return [(GROUP, loading.get_auth_common_conf_options()
             + loading.get_auth_plugin_conf_options('password')
             + loading.get_session_conf_options() + loading.get_adapter_conf_options())]


class ProjectCheck:
    """``check(project_id)``: whether the project exists and is enabled.

    A project Keystone says is gone (404) or disabled is not; when Keystone
    cannot answer (down, or refuses these credentials) the check says
    not either, logged at ERROR: subscriptions are ended rather than kept
    for a project that may be disabled; their subscribers subscribe again.

    :param adapter: a keystoneauth1 ``Adapter`` for the identity service
    """

    def __init__(self, adapter):
        self.adapter = adapter

    @classmethod
    def from_conf(cls, conf):
        """The check of ``conf``'s ``[keystone]`` credentials, or None when
        the group names no ``auth_type`` (no check: a project update then
        ends nothing)."""
        auth = loading.load_auth_from_conf_options(conf, GROUP)
        if auth is None:
            return None
        session = loading.load_session_from_conf_options(conf, GROUP, auth=auth)
        return cls(loading.load_adapter_from_conf_options(
            conf, GROUP, session=session, service_type='identity'))

    def __call__(self, project_id):
        url = '/v3/projects/%s' % urllib.parse.quote(project_id, safe='')
        try:
            answer = self.adapter.get(url, raise_exc=False)
        except exceptions.ClientException as exc:
            LOG.error('Keystone did not say whether project %s is enabled (%s): its '
                      'subscriptions end', project_id, type(exc).__name__)
            return False
        if answer.status_code == 404:
            return False
        if answer.status_code != 200:
            LOG.error('Keystone answered %d to reading project %s (the [%s] credentials need '
                      'a system reader or admin): its subscriptions end', answer.status_code,
                      project_id, GROUP)
            return False
        return bool(answer.json()['project'].get('enabled', True))
