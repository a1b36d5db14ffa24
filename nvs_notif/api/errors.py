"""Errors as JSON bodies, the shape keystone (and keystonemiddleware's 401) use::

    {"error": {"code": 400, "title": "Bad Request", "message": "limit: ..."}}

Every failure of a request becomes one: a refusal (:class:`ApiError`), an
HTTP error of the framework (404 for an unknown path, 405...), a store that
fails (:class:`~nvs_notif.storage.base.StoreError`: 503), and any other
exception, which is logged with its traceback and answered with a 500 that
says nothing about it.
"""
import http
import logging

import flask
from werkzeug import exceptions

from nvs_notif.storage import base

LOG = logging.getLogger(__name__)


class ApiError(Exception):
    """A request refused, with what the user can act on."""
    code = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    code = 400


class Unauthorized(ApiError):
    code = 401


class Forbidden(ApiError):
    code = 403


class NotFound(ApiError):
    code = 404


def body(code, message):
    """The JSON response of an error."""
    response = flask.jsonify({'error': {'code': code, 'title': http.HTTPStatus(code).phrase,
                                        'message': message}})
    response.status_code = code
    return response


def _api_error(error):
    return body(error.code, error.message)


def _http_error(error):
    response = body(error.code, error.description)
    if error.code == 405 and error.valid_methods:
        response.headers['Allow'] = ', '.join(error.valid_methods)
    return response


def _store_error(error):
    LOG.error('The store failed answering %s %s: %s', flask.request.method,
              flask.request.path, error)
    return body(503, 'The store did not answer; try again later.')


def _unexpected(error):
    LOG.exception('Unexpected error answering %s %s', flask.request.method, flask.request.path)
    return body(500, 'The server could not answer; the error is in its log.')


def register(app):
    """Answer every error of ``app`` with a JSON body."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(exceptions.HTTPException, _http_error)
    app.register_error_handler(base.StoreError, _store_error)
    app.register_error_handler(Exception, _unexpected)
