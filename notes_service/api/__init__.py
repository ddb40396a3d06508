"""The JSON API under ``/api/v1``: bearer-token authentication, one route declaration that
loads the body with its schema, dumps the answer with its schema and documents both in the
OpenAPI document at ``/api/openapi.json``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import bindparam, select
from werkzeug.exceptions import Unauthorized
from werkzeug.routing import IntegerConverter

from notes_service.db_types import utcnow
from notes_service.extensions import csrf, db
from notes_service.prepared import Prepared, as_loaded, column_keys, holds_nothing
from notes_service.validation import MAX_ID

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass
class Operation:
    """One documented API operation."""

    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    body: type[Schema] | None = None
    #: Fields of ``body`` that may be left out (True: all), as for a PATCH.
    partial: bool | tuple[str, ...] = False
    response: type[Schema] | None = None
    many: bool = False
    status: int = 200
    query: type[Schema] | None = None
    auth: bool = True
    #: The success answer's media type, or several (e.g. a chart as PNG or SVG).
    media_type: str | tuple[str, ...] = "application/json"
    errors: tuple[int, ...] = field(default=(401, 404, 422))


OPERATIONS: list[Operation] = []
#: Media types of a chart route, which answers in the format its URL names.
CHART_MEDIA = ("image/png", "image/svg+xml")


def token_digest(token: str) -> str:
    """SHA-256 of an API token, which is all the database keeps of it."""
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def _token_conditions() -> tuple:
    """What makes a token valid for its user: its digest, not revoked nor expired, and the
    user active (``:digest`` and ``:now`` are bound per request)."""
    from notes_service.auth.models import ApiToken, User

    return (ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > bindparam("now"), User.active.is_(True))


def _token_select(*columns):
    """``columns`` of the active user of a valid token (:func:`_token_conditions`)."""
    from notes_service.auth.models import ApiToken, User

    return (select(*columns).join(ApiToken, ApiToken.user_id == User.id)
            .where(*_token_conditions()))


@functools.cache
def _token_statement():
    """The active user of a valid token, by the token's digest: built (and compiled) once."""
    from notes_service.auth.models import User

    return _token_select(User)


def _token_identity_statement():
    """The same user as :func:`_token_statement`, as the three plain columns of
    :class:`Identity`."""
    from notes_service.auth.models import User

    return _token_select(User.id, User.role, User.patient_id)


_TOKEN_IDENTITY = Prepared(_token_identity_statement)


@dataclass(frozen=True)
class Identity:
    """Who a valid bearer token belongs to, as plain values rather than an ORM object: what
    scoping a read (:func:`notes_service.access.scope_params`) and signing its audit row need,
    for the answers that need nothing more (a chart's 304, see ``api_route(shortcut=...)``)."""

    id: int
    role: str
    patient_id: int | None


def bearer_digest() -> str | None:
    """The digest of the request's bearer token, or None without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token_digest(token)


def _bearer_token_params() -> dict | None:
    """The statement parameters of the request's bearer token, or None without one."""
    digest = bearer_digest()
    return None if digest is None else {"digest": digest, "now": utcnow()}


def _token_user_statement():
    """The columns of :func:`_token_statement`'s user."""
    from notes_service.auth.models import User

    return _token_select(*(getattr(User, key) for key in column_keys(User)))


#: Run on the driver's cursor: SQLAlchemy's execution of the ORM statement and its loading of
#: the user cost several times the statement itself, on every API request.
_TOKEN_USER = Prepared(_token_user_statement)


def authenticate_bearer():
    """Return the user of the request's bearer token, or raise 401.

    The user is read as a row and attached as loaded while the session holds nothing (every
    request: the route authenticates first), else through the ORM
    (:func:`notes_service.prepared.holds_nothing`)."""
    from notes_service.auth.models import User

    params = _bearer_token_params()
    if params is None:
        raise Unauthorized("A bearer token is required: POST /api/v1/auth/token.")
    session = db.session()
    if not holds_nothing(session):
        user = session.execute(_token_statement(), params).scalar_one_or_none()
    else:
        row = _TOKEN_USER.first(session.connection(), params)
        user = None if row is None else as_loaded(session, User, row)
    if user is None:
        raise Unauthorized("The token is invalid, expired or revoked.")
    return user


def bearer_identity(connection) -> Identity | None:
    """The :class:`Identity` of the request's bearer token, read on ``connection``; None when
    there is no valid token (the request then goes the usual way, which answers 401)."""
    params = _bearer_token_params()
    if params is None:
        return None
    row = _TOKEN_IDENTITY.first(connection, params)
    return None if row is None else Identity(*row)


def load_json(schema: Schema) -> dict:
    """Load the request's JSON body with ``schema`` (422 on any error)."""
    if not request.get_data(cache=True):
        payload = {}
    else:
        try:
            payload = request.get_json(silent=True)
        except RecursionError:  # nested deeper than the parser's stack: silent=True misses it
            payload = None
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["The body must be a JSON object."]})
    return schema.load(payload)


def api_route(rule: str, method: str = "GET", *, summary: str, tag: str,
              body: type[Schema] | None = None, load_body: bool = True,
              partial: bool | tuple[str, ...] = False, response: type[Schema] | None = None, many: bool = False, status: int = 200,
              query: type[Schema] | None = None, auth: bool = True,
              media_type: str | tuple[str, ...] = "application/json", errors: tuple[int, ...] = (401, 404, 422),
              shortcut=None):
    """Declare an API route: authentication, body loading, dumping and its OpenAPI entry.

    The view receives ``data`` (the loaded body) when ``body`` is given and ``load_body`` is
    true (``partial`` names the fields that may be left out, as for a PATCH; the document says
    so too), and ``query`` (loaded query arguments) when ``query`` is given. It returns an object
    to dump with ``response``, an ``(object, status)`` pair, or a ready ``Response``. The one
    commit of the request happens here, after the answer was dumped.

    ``shortcut`` (for GET routes): a function of the view's arguments (``query`` loaded) that
    may answer first, from a validator alone, without the ORM session (a chart's 304). It
    authenticates and scopes by itself (:func:`bearer_identity`), audits and commits its
    answer on its own connection, and returns None for anything else: a missing or invalid
    token, a bad query, a denied or missing object, a cache miss. The request then runs as
    if there were no shortcut, which gives those their 401, 422 or 404 in the usual order.
    """

    def decorator(view):
        endpoint = view.__name__
        # Built once: a schema per request rebuilds its nested schemas at every dump.
        dumper = response(many=many) if response is not None else None
        query_loader = query() if query is not None else None

        @functools.wraps(view)
        def wrapper(**kwargs):
            if shortcut is not None:
                answer = _try_shortcut(shortcut, query_loader, kwargs)
                if answer is not None:
                    return answer
            g.actor = authenticate_bearer() if auth else None
            if query_loader is not None:
                kwargs["query"] = query_loader.load(request.args.to_dict())
            if body is not None and load_body:
                kwargs["data"] = load_json(body(partial=partial))
            result = view(**kwargs)
            if isinstance(result, Response):
                _commit_answered()
                return result
            code = status
            if isinstance(result, tuple):
                result, code = result
            payload = dumper.dump(result) if dumper is not None else result
            _commit_answered()
            return jsonify(payload), code

        bp.add_url_rule(rule, endpoint, wrapper, methods=[method])
        OPERATIONS.append(Operation(rule, method, endpoint, summary, tag, body, partial,
                                    response, many, status, query, auth, media_type, errors))
        return wrapper

    return decorator


def _commit_answered() -> None:
    """Commit the request's transaction once its answer is made. Nothing reads the session's
    objects after that (the session ends with the request), so the commit does not expire
    them all first (``expire_on_commit``): that costs as much as the audit row's insert."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def _try_shortcut(shortcut, query_loader: Schema | None, kwargs: dict) -> Response | None:
    """The shortcut's answer, or None (see :func:`api_route`)."""
    if query_loader is not None:
        try:
            kwargs = {**kwargs, "query": query_loader.load(request.args.to_dict())}
        except ValidationError:
            return None  # the usual way answers 401 before 422
    return shortcut(**kwargs)


_CONVERTER = re.compile(r"<(?:([^<>:]+):)?(\w+)>")


def _path_parameter_schema(converter: str) -> dict:
    """OpenAPI schema of a Werkzeug URL converter (int, any(a, b), or a string)."""
    if converter == "int":
        return {"type": "integer"}
    if converter.startswith("any("):
        return {"type": "string",
                "enum": [v.strip() for v in converter[4:-1].split(",")]}
    return {"type": "string"}


def build_spec() -> dict:
    """Build the OpenAPI 3 document of every ``/api/v1`` route from the same schemas."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    from notes_service.api.schemas import ErrorsSchema

    spec = APISpec(title="notes_service API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Plans of care, SOAP visit notes with test/treat/retest "
                                        "measures, progress and charts."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Errors", schema=ErrorsSchema)
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path = bp.url_prefix + _CONVERTER.sub(r"{\2}", op.rule)
        parameters = [
            {"in": "path", "name": name, "required": True,
             "schema": _path_parameter_schema(conv)}
            for conv, name in _CONVERTER.findall(op.rule)
        ]
        if op.query is not None:
            parameters.append({"in": "query", "schema": op.query})
        operation: dict = {"summary": op.summary, "tags": [op.tag], "operationId": op.endpoint,
                           "parameters": parameters, "responses": {}}
        if op.auth:
            operation["security"] = [{"bearer": []}]
        codes = op.errors
        if "{" in path:  # a path value outside its pattern or choices matches no route
            codes = tuple(sorted({*codes, 404}))
        if op.body is not None:
            body = op.body(partial=op.partial) if op.partial else op.body
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": body}}}
            codes = tuple(sorted({*codes, 413}))  # MAX_CONTENT_LENGTH applies to every body
        if op.response is not None:
            schema = {"type": "array", "items": op.response} if op.many else op.response
            operation["responses"][str(op.status)] = {
                "description": "Success", "content": {op.media_type: {"schema": schema}}}
        elif op.media_type != "application/json":
            types = op.media_type if isinstance(op.media_type, tuple) else (op.media_type,)
            operation["responses"][str(op.status)] = {"description": "Success", "content": {
                media: {"schema": {"type": "object"} if media.endswith("json")
                        else {"type": "string", "format": "binary"}} for media in types}}
        else:
            operation["responses"][str(op.status)] = {"description": "Success"}
        for code in codes:
            operation["responses"][str(code)] = {
                "description": {401: "Not authenticated", 403: "Not allowed",
                                304: "Not modified", 404: "Not found or not visible",
                                409: "Conflict", 413: "Body too large",
                                422: "Invalid input"}.get(code, "Error"),
                **({} if code == 304 else {"content": {"application/json": {
                    "schema": "Errors"}}}),
            }
        paths.setdefault(path, {})[op.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def digits_up_to(limit: int) -> str:
    """A regular expression of the decimal numbers from 0 to ``limit``."""
    text = str(limit)
    size = len(text)
    options = [f"[0-9]{{1,{size - 1}}}"] if size > 1 else []
    for i, digit in enumerate(map(int, text)):
        if digit:
            options.append(f"{text[:i]}[0-{digit - 1}][0-9]{{{size - i - 1}}}")
    return "(?:" + "|".join([*options, text]) + ")"


class IdConverter(IntegerConverter):
    """``<int:...>`` in URLs: a whole number up to :data:`MAX_ID`.

    A larger number cannot be an id, so it does not match the route (404) rather than reach
    the database, where it overflows the integer columns (an error on both backends). The
    bound is in the regex: a ``max`` check in ``to_python`` runs after Werkzeug has compared
    methods, and turns the 404 into a 405 where another method shares the path.
    """

    regex = digits_up_to(MAX_ID)


def register_api(app: Flask) -> None:
    """Import the feature API modules (which declare routes on ``bp``) and register them."""
    from notes_service.auth import api as _auth_api  # noqa: F401
    from notes_service.interop import api as _interop_api  # noqa: F401
    from notes_service.outcomes import api as _outcomes_api  # noqa: F401
    from notes_service.patients import api as _patients_api  # noqa: F401
    from notes_service.plans import api as _plans_api  # noqa: F401
    from notes_service.portal import api as _portal_api  # noqa: F401
    from notes_service.progress import api as _progress_api  # noqa: F401
    from notes_service.reports import api as _reports_api  # noqa: F401
    from notes_service.security import api as _security_api  # noqa: F401
    from notes_service.visits import api as _visits_api  # noqa: F401

    app.url_map.converters["int"] = IdConverter  # before any route is added to the map
    csrf.exempt(bp)  # bearer tokens, not cookies: no cross-site request can carry one
    app.register_blueprint(bp)

    @app.get("/api/openapi.json")
    def openapi():
        return jsonify(app.extensions["openapi_spec"])

    app.extensions["openapi_spec"] = build_spec()
