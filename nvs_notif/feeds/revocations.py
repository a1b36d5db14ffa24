"""Keystone's notifications that take access away end the subscriptions they
concern: a project deleted or disabled, a role removed, a user deleted.

What keystone (30, ``keystone/notifications.py``) sends, on its ``keystone``
exchange, whatever ``[DEFAULT] notification_format`` says for the payload
fields read here:

* ``identity.project.deleted`` and ``identity.project.updated``:
  ``resource_info`` is the project id (``basic``: ``{"resource_info": id,
  "request_id": ...}``; ``cadf``: a CADF event whose ``target.id`` and
  ``resource_info`` are the id).  Disabling a project sends only
  ``identity.project.updated``: its ``identity.project.disabled`` is sent to
  keystone's own listeners, never on the bus, and no payload says
  ``enabled``; so an update is a :attr:`Revocation.confirm`: Keystone is
  asked whether the project is still enabled.
* ``identity.role_assignment.deleted``: always a CADF event (whatever the
  format), ``outcome`` ``success`` or ``failure``, with ``role``,
  ``inherited_to_projects``, ``project`` or ``domain``, ``user`` or ``group``.
* ``identity.user.deleted``: ``resource_info`` is the user id.

:func:`revocation` is the pure mapping; :func:`revoke` applies one to the
hub: each subscription it concerns ends with a ``hub.mode=denied`` notice
(WebSub 5.2).  A subscriber who still has access subscribes again (and is
checked again).
"""
import dataclasses
import logging

from nvs_notif.feeds import topics as topics_mod

LOG = logging.getLogger(__name__)

#: Event types of keystone's notifications that may take access away.
EVENT_TYPES = ('identity.project.deleted', 'identity.project.updated',
               'identity.role_assignment.deleted', 'identity.user.deleted')


@dataclasses.dataclass(frozen=True)
class Revocation:
    """Subscriptions to end: to the topics of ``project_id`` (of every
    project, admins' all-projects topics included, when None) made by
    ``user_id`` (by anyone when None).

    :ivar confirm: end them only if Keystone says the project is disabled or
        gone (``identity.project.updated`` does not say what changed)
    :ivar reason: the ``hub.reason`` of the denial notices
    """
    reason: str
    project_id: str | None = None
    user_id: str | None = None
    confirm: bool = False


def _id(value):
    return value if isinstance(value, str) and value else None


def revocation(doc):
    """The :class:`Revocation` a stored notification document asks for, or
    None (any other notification, a failed role removal, one without the
    ids it needs).

    :param doc: a notification document as the stores return them
        (``event_type``, ``payload``)
    """
    event_type = doc.get('event_type')
    payload = doc.get('payload')
    if event_type not in EVENT_TYPES or not isinstance(payload, dict):
        return None
    resource = _id(payload.get('resource_info'))
    if event_type == 'identity.project.deleted':
        return resource and Revocation('project %s was deleted' % resource, project_id=resource)
    if event_type == 'identity.project.updated':
        return resource and Revocation('project %s is disabled' % resource,
                                       project_id=resource, confirm=True)
    if event_type == 'identity.user.deleted':
        return resource and Revocation('user %s was deleted' % resource, user_id=resource)
    return _role_removed(payload)


def _role_removed(payload):
    if payload.get('outcome') != 'success':
        return None
    project, domain = _id(payload.get('project')), _id(payload.get('domain'))
    user, group = _id(payload.get('user')), _id(payload.get('group'))
    if project and user:
        return Revocation('role removed from user %s on project %s' % (user, project),
                          project_id=project, user_id=user)
    if project and group:
        # Which users the group's role reached is Keystone's to say: every
        # subscriber of the project is asked to subscribe again.
        return Revocation('role removed from group %s on project %s' % (group, project),
                          project_id=project)
    if domain and user:
        # A domain role (inherited to its projects or not) may have been what
        # let the user read any project of the domain.
        return Revocation('role removed from user %s on domain %s' % (user, domain),
                          user_id=user)
    # A group's role on a domain: which projects and users it reached is
    # Keystone's to say; logged, nothing ended.
    if domain and group:
        LOG.warning('Keystone removed a role of group %s on domain %s: subscriptions are '
                    'checked again only at their renewal', group, domain)
    return None


def revoke(hub, revocation_, project_enabled=None):
    """End the subscriptions ``revocation_`` concerns, each with a denial
    notice; how many ended.

    :param hub: the :class:`~nvs_notif.websub.hub.Hub`
    :param project_enabled: ``project_enabled(project_id)``: whether Keystone
        says the project exists and is enabled, asked for a
        :attr:`Revocation.confirm` (None: nothing is confirmed, nothing ended)
    """
    r = revocation_
    if r.confirm and (project_enabled is None or project_enabled(r.project_id)):
        return 0
    now = hub.clock()
    ended = 0
    for url in hub.store.topics(now):
        try:
            _base, topic = topics_mod.split(url)
        except topics_mod.InvalidTopic:
            continue
        if r.project_id is not None and topic.project_id != r.project_id:
            continue
        for subscription in hub.store.subscriptions(url, now):
            if r.user_id is not None and subscription.user_id != r.user_id:
                continue
            hub.deny(url, subscription.callback, r.reason)
            ended += 1
    return ended
