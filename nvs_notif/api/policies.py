"""Who may read what: the API's oslo.policy rules, in code.

A project reader (or member) reads the records of their token's project; an
admin reads any project's, and all of them with ``all_projects=true`` (the
only way to reach records that carry no project, such as a host's periodic
notifications). Operators override rules in ``policy.yaml``
(``[oslo_policy] policy_file``); ``oslopolicy-sample-generator --namespace
nvs_notif`` lists them.
"""
import time

from oslo_policy import policy

from nvs_notif.api import config

ADMIN = 'role:admin'
PROJECT_READER = '(role:reader or role:member) and project_id:%(project_id)s'

#: Base rules, named once and composed by the API rules.
RULE_ADMIN = 'rule:admin_api'
RULE_PROJECT_READER_OR_ADMIN = 'rule:project_reader_or_admin'

ALL_PROJECTS = 'nvs:all_projects'

_BASE = [
    policy.RuleDefault('admin_api', ADMIN, description='An administrator of the cloud.'),
    policy.RuleDefault('project_reader_or_admin', '%s or (%s)' % (RULE_ADMIN, PROJECT_READER),
                       description='A reader or member of the project the records '
                                   'belong to, or an administrator.'),
]


def _read(name, path, description):
    return policy.DocumentedRuleDefault(
        name='nvs:%s' % name, check_str=RULE_PROJECT_READER_OR_ADMIN,
        description=description, operations=[{'method': 'GET', 'path': path}],
        scope_types=['project'])


_API = [
    policy.DocumentedRuleDefault(
        name=ALL_PROJECTS, check_str=RULE_ADMIN,
        description='Read the records of every project, and those of none '
                    '(all_projects=true), or of a project other than the token\'s '
                    '(project_id=...).',
        operations=[{'method': 'GET', 'path': '/v1/*?all_projects=true'},
                    {'method': 'GET', 'path': '/v1/*?project_id={project_id}'}],
        scope_types=['project']),
    _read('notifications:list', '/v1/notifications', 'List notifications.'),
    _read('notifications:get', '/v1/notifications/{message_id}', 'Show one notification.'),
    _read('traces:get', '/v1/traces/{request_id}',
          'Show the spans of a request or global request as a tree.'),
    _read('history:get', '/v1/history', 'List what a project, user or resource did.'),
    _read('sla:get', '/v1/sla', 'Service levels per operation.'),
    _read('errors:get', '/v1/errors', 'Failures by host, service and exception.'),
    _read('stuck:get', '/v1/stuck', 'Requests open past their limit.'),
    _read('hosts:get', '/v1/hosts', 'Notifications, errors and silence per host and service.'),
    _read('feeds:get', '/v1/feeds/{kind}',
          'An Atom feed of notifications or finished spans (kind notifications or '
          'spans), and its archive pages (/v1/feeds/{kind}/archive).'),
    policy.DocumentedRuleDefault(
        name='nvs:hub:subscribe', check_str=RULE_PROJECT_READER_OR_ADMIN,
        description='Subscribe to (or unsubscribe from) a feed of the project at the '
                    'WebSub hub; checked at every request, so at every renewal too.',
        operations=[{'method': 'POST', 'path': '/v1/hub'}], scope_types=['project']),
]


def list_rules():
    """Every rule (entry point ``oslo.policy.policies: nvs_notif``)."""
    return _BASE + _API


#: Seconds between two looks for changed policy files (``policy_file``,
#: ``policy_dirs``): an operator's edit applies within this, without a restart.
RELOAD_INTERVAL = 1.0


class Enforcer(policy.Enforcer):
    """oslo.policy's enforcer, looking at the policy files at most every
    ``reload_interval`` seconds instead of at every check.

    oslo.policy's ``enforce`` calls ``load_rules``, which searches the
    configuration directories for ``policy_file`` and ``policy_dirs`` (a dozen
    ``stat`` calls when there is no policy file, as by default) before it
    looks at the rules: about a tenth of a trace request's CPU, twice for an
    admin's ``project_id=``. Rules are still reloaded when a file changes, and
    at once by ``load_rules(force_reload=True)``.
    """

    def __init__(self, conf, reload_interval=RELOAD_INTERVAL, clock=time.monotonic):
        super().__init__(conf)
        self.reload_interval = reload_interval
        self._clock = clock
        self._next_load = None

    def load_rules(self, force_reload=False):
        now = self._clock()
        if (force_reload or not self.rules or self._next_load is None
                or now >= self._next_load):
            super().load_rules(force_reload)
            self._next_load = now + self.reload_interval


def make_enforcer(conf):
    """An enforcer of :func:`list_rules` over ``conf``'s ``[oslo_policy]``."""
    enforcer = Enforcer(conf)
    enforcer.register_defaults(list_rules())
    return enforcer


def get_enforcer():
    """For ``oslopolicy-policy-generator`` (entry point ``oslo.policy.enforcer``):
    the enforcer of the configuration the API would read."""
    return make_enforcer(config.load_conf(config.config_files()))
