"""Token endpoint of the JSON API."""

from flask import current_app
from werkzeug.exceptions import Unauthorized

from notes_service.api import api_route
from notes_service.auth.schemas import TokenRequestSchema, TokenSchema
from notes_service.auth.services import authenticate, issue_token
from notes_service.extensions import db


@api_route("/auth/token", "POST", summary="Exchange e-mail and password for a bearer token",
           tag="auth", body=TokenRequestSchema, response=TokenSchema, status=201, auth=False,
           errors=(401, 422))
def create_token(data):
    user = authenticate(data["email"], data["password"])
    if user is None:
        db.session.commit()  # keep the audit record of the failed attempt
        raise Unauthorized("Wrong e-mail or password.")
    token, expires_at = issue_token(user, current_app.config["API_TOKEN_HOURS"])
    return {"token": token, "expires_at": expires_at}
