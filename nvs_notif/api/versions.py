"""``/``: the version document clients discover the API by (no token needed)."""
import flask

blueprint = flask.Blueprint('versions', __name__)

#: The API versions served: one.
VERSIONS = ({'id': 'v1.0', 'status': 'CURRENT', 'path': 'v1/'},)


@blueprint.get('/')
def versions():
    root = flask.request.url_root
    return {'versions': [
        {'id': v['id'], 'status': v['status'],
         'links': [{'rel': 'self', 'href': root + v['path']}]} for v in VERSIONS]}
