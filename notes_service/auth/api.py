"""Token endpoints of the JSON API: exchange credentials for a token, revoke tokens, change
one's password."""

from flask import current_app, g, request
from marshmallow import ValidationError
from werkzeug.exceptions import Unauthorized

from notes_service.api import api_route, bearer_digest
from notes_service.audit.services import record
from notes_service.auth.schemas import (
    PasswordChangeSchema,
    RevokedSchema,
    TokenRequestSchema,
    TokenRevokeSchema,
    TokenSchema,
)
from notes_service.auth.services import authenticate, change_password, issue_token, revoke_tokens
from notes_service.extensions import db


@api_route("/auth/token", "POST", summary="Exchange e-mail and password for a bearer token",
           tag="auth", body=TokenRequestSchema, response=TokenSchema, status=201, auth=False,
           errors=(401, 422, 429))
def create_token(data):
    user = authenticate(data["email"], data["password"], ip=request.remote_addr)
    if user is None:
        db.session.commit()  # keep the audit record of the failed attempt
        raise Unauthorized("Wrong e-mail or password.")
    token, expires_at = issue_token(user, current_app.config["API_TOKEN_HOURS"])
    return {"token": token, "expires_at": expires_at}


@api_route("/auth/token/revoke", "POST", summary="Revoke this token (or every token of yours)",
           tag="auth", body=TokenRevokeSchema, response=RevokedSchema, errors=(401, 422))
def revoke_token(data):
    count = revoke_tokens(g.actor, None if data["all"] else bearer_digest())
    record(g.actor, "token_revoke", "auth", detail=f"revoked {count} API token(s)")
    return {"revoked": count}


@api_route("/auth/password", "POST", summary="Change your password; every session and token "
           "of yours ends, and a new token is returned", tag="auth",
           body=PasswordChangeSchema, response=TokenSchema, errors=(401, 422, 429))
def change_own_password(data):
    try:
        change_password(g.actor, data["current_password"], data["new_password"],
                        ip=request.remote_addr)
    except ValidationError:
        db.session.commit()  # keep the record of a wrong current password
        raise
    token, expires_at = issue_token(g.actor, current_app.config["API_TOKEN_HOURS"])
    return {"token": token, "expires_at": expires_at}
