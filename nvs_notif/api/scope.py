"""Whose records a request reads: decided once, from the token, before any
store call. Stores get a project id (or None for every project) and never
see tokens or roles."""
import flask
from oslo_context import context

from nvs_notif.api import errors
from nvs_notif.api import params
from nvs_notif.api import policies
from nvs_notif.api import state

#: The query parameters every project-scoped endpoint takes.
PARAMS = ('all_projects', 'project_id')


def require_identity():
    """Refuse a request keystonemiddleware did not confirm (401): a
    ``before_request`` hook, against a pipeline deployed without it or with
    ``delay_auth_decision``."""
    if flask.request.headers.get('X-Identity-Status') != 'Confirmed':
        raise errors.Unauthorized('The request you have made requires authentication.')


def project(args, rule):
    """The project whose records this request reads, or None for every project.

    The token's project by default; ``project_id=`` another one or
    ``all_projects=true`` need :data:`policies.ALL_PROJECTS` (admins).

    :param args: the request's checked query (:func:`params.query`)
    :param rule: the policy rule of the endpoint
    :raises errors.Forbidden: when the policy refuses
    """
    ctx = request_context()
    everyone = params.flag('all_projects', args.get('all_projects'))
    asked = params.ident('project_id', args.get('project_id'))
    if everyone and asked:
        raise errors.BadRequest('give all_projects or project_id, not both')
    wanted = None if everyone else asked or ctx.project_id
    if wanted is None and not everyone:
        raise errors.Forbidden('This API answers for a project: use a project-scoped token '
                               '(administrators: all_projects=true).')
    authorize(wanted, rule, ctx)
    return wanted


def request_context():
    """The request's oslo.context (user, project, roles from keystonemiddleware)."""
    return context.RequestContext.from_environ(flask.request.environ)


def authorize(project_id, rule, ctx):
    """Refuse (403) unless ``ctx`` may have ``rule`` on the records of
    ``project_id`` (None: every project): another project than the token's,
    or every project, needs :data:`policies.ALL_PROJECTS` first.  The answer
    never depends on whether that project exists.

    :raises errors.Forbidden: when the policy refuses
    """
    if project_id is None or project_id != ctx.project_id:
        _authorize(policies.ALL_PROJECTS, {}, ctx)
    _authorize(rule, {'project_id': project_id}, ctx)


def _authorize(rule, target, ctx):
    if not state.current().enforcer.authorize(rule, target, ctx):
        raise errors.Forbidden('Policy does not allow %s.' % rule)
