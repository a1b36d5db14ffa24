"""``/v1`` answers: trace, history, sla, errors, stuck, hosts, each the
``nvs-notif`` command's answer for the request's project (:mod:`scope`).

The stores filter and aggregate by project; the rows are the command's
(:mod:`nvs_notif.answers`), as JSON objects (:mod:`views`).
"""
import flask

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import history as history_answer
from nvs_notif.answers import hosts as hosts_answer
from nvs_notif.answers import sla as sla_answer
from nvs_notif.answers import stuck as stuck_answer
from nvs_notif.answers import trace as trace_answer
from nvs_notif.api import errors
from nvs_notif.api import params
from nvs_notif.api import scope
from nvs_notif.api import state
from nvs_notif.api import views
from nvs_notif import timeutil

blueprint = flask.Blueprint('answers', __name__)


@blueprint.get('/traces/<request_id>')
def trace(request_id):
    args = params.query(scope.PARAMS)
    project = scope.project(args, 'nvs:traces:get')
    res = state.current()
    ident = params.ident('request_id', request_id)
    spans = trace_answer.linked_spans(res.store, ident, project_id=project)
    if not spans:
        # The same answer for another project's request as for none at all.
        raise errors.NotFound('No such request.')
    rows = trace_answer.trace_tree(spans, timeutil.utcnow(), res.stuck_policy, ident=ident)
    return {'request_id': ident, 'spans': views.trace_objects(rows)}


@blueprint.get('/history')
def history():
    args = params.query(('user_id', 'resource', 'since', 'until', 'limit') + scope.PARAMS)
    project = scope.project(args, 'nvs:history:get')
    res = state.current()
    since, until = params.window(args, timeutil.utcnow())
    docs = res.store.notifications(
        project_id=project, user_id=params.ident('user_id', args.get('user_id')),
        resource_id=params.ident('resource', args.get('resource')), since=since, until=until,
        limit=params.page_limit(args, res.conf.api), fields=history_answer.HISTORY_FIELDS)
    return {'history': history_answer.history_objects(docs)}


@blueprint.get('/sla')
def sla():
    args = params.query(('operation', 'group_by', 'breakdown', 'since', 'until')
                        + scope.PARAMS)
    project = scope.project(args, 'nvs:sla:get')
    store = state.current().store
    since, until = params.window(args, timeutil.utcnow())
    operation = params.ident('operation', args.get('operation'))
    breakdown = params.ident('breakdown', args.get('breakdown'))
    group_by = params.choice('group_by', args.get('group_by'), sla_answer.GROUPS)
    if breakdown and (operation or group_by):
        raise errors.BadRequest('breakdown takes neither operation nor group_by')
    if breakdown:
        return {'breakdown': views.objects(store.breakdown(breakdown, since, until,
                                                           project_id=project))}
    return {'sla': views.objects(store.sla(group_by, operation, since, until,
                                           project_id=project))}


@blueprint.get('/errors')
def errors_():
    args = params.query(('since', 'until', 'limit') + scope.PARAMS)
    project = scope.project(args, 'nvs:errors:get')
    res = state.current()
    since, until = params.window(args, timeutil.utcnow())
    top = params.page_limit(args, res.conf.api)
    return {'errors': views.objects(errors_answer.rows(
        res.store.error_groups(since, until, project), top))}


@blueprint.get('/stuck')
def stuck():
    args = params.query(('operation',) + scope.PARAMS)
    project = scope.project(args, 'nvs:stuck:get')
    res = state.current()
    now = timeutil.utcnow()
    policy = res.stuck_policy
    spans = res.store.stuck_spans(now, policy, params.ident('operation', args.get('operation')),
                                  project_id=project)
    return {'stuck': views.objects(stuck_answer.stuck(spans, now, policy))}


@blueprint.get('/hosts')
def hosts():
    args = params.query(('since', 'silent_after') + scope.PARAMS)
    project = scope.project(args, 'nvs:hosts:get')
    now = timeutil.utcnow()
    since = params.time('since', args.get('since'), now) or now - hosts_answer.WINDOW
    if since > now:
        raise errors.BadRequest('since (%s) is in the future' % timeutil.iso(since))
    silent_after = params.duration('silent_after',
                                   args.get('silent_after') or hosts_answer.SILENT_AFTER)
    activity = state.current().store.host_activity(since, now, project_id=project)
    return {'hosts': views.objects(hosts_answer.rows(activity, now, since, silent_after))}
