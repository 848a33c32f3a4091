"""Sign-in and sign-out; who the current user is, for every request."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from .hosts import is_json_path
from .signin_limit import Locked, SignInLimitUnavailable
from .users import User, UserStore

log = logging.getLogger("phoenyra.webapp.auth")

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "static", "views.healthz", "views.readyz", "views.favicon", "i18n.set_language"}
)
DEV_USER = User("developer", "admin")


def wants_json() -> bool:
    return is_json_path(request.path)


def json_error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


def signed_in_user(data: Mapping[str, Any], users: UserStore) -> User | None:
    """The user a session's data signs in, or None: none signed in, the user is gone, or the
    password was changed since (a reset password ends every session opened with the old one,
    wherever it is held). For requests and for the live sockets' sweep alike."""
    name = data.get("user")
    if not name:
        return None
    user = users.get(name)
    if user is None or not hmac.compare_digest(user.stamp, data.get("stamp", "")):
        return None
    return user


def load_user() -> User | None:
    state = current_app.extensions["phoenyra"]
    if state.settings.login_disabled:
        return DEV_USER
    user = signed_in_user(session, state.users)
    if user is None and session.get("user"):
        session.clear()  # it had signed in and has ended: the server forgets it too
    return user


def require_sign_in():
    """before_request: everything but the sign-in page and health checks needs a user."""
    g.user = load_user()
    if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if wants_json():
        return json_error(401, "SIGN_IN_REQUIRED", "Sign in to the web app first.")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Only a path on this site; never an open redirect to another host."""
    if not target:
        return url_for("views.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("views.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    state = current_app.extensions["phoenyra"]
    if request.method == "GET":
        if state.settings.login_disabled:
            # Development without passwords: everyone is the developer admin already, so there
            # is nothing to sign in to; the page would only show a form that does nothing.
            return redirect(safe_next(request.args.get("next")))
        return render_template("login.html", next=request.args.get("next", ""))
    name = request.form.get("username", "")

    def refuse(message: str, status: int):
        flash(message, "error")
        page = render_template("login.html", next=request.form.get("next", ""), username=name)
        return make_response(page, status)

    try:
        attempt = state.signin_limit.begin(name, request.remote_addr)
    except SignInLimitUnavailable as exc:
        log.error("sign-in refused: the failed sign-in counters are unavailable (%s)", exc)
        return refuse(_("Sign-in is unavailable at the moment; try again shortly."), 503)
    if isinstance(attempt, Locked):
        # The same answer for every name, known or not; the password is not looked at.
        response = refuse(locked_message(attempt), 429)
        response.headers["Retry-After"] = str(attempt.retry_after_s)
        return response
    user = state.users.authenticate(name, request.form.get("password", ""))
    if user is None:
        state.signin_limit.failed(attempt)
        return refuse(_("Wrong user name or password."), 401)
    state.signin_limit.succeeded(attempt)
    session.clear()  # a fresh session: no fixation across sign-in
    session["user"] = user.name
    session["stamp"] = user.stamp
    session.permanent = True
    # ...under a new id: one planted or copied before sign-in (or before an earlier sign-out
    # in this browser) does not become signed in.
    current_app.session_interface.regenerate(session)
    flash(_("Signed in as %(name)s (%(role)s).", name=user.name, role=user.role), "success")
    return redirect(safe_next(request.form.get("next")))


def locked_message(locked: Locked) -> str:
    minutes = -(-locked.retry_after_s // 60)
    if locked.scope == "user":
        return ngettext(
            "Too many failed sign-ins for this account; try again in %(num)d minute.",
            "Too many failed sign-ins for this account; try again in %(num)d minutes.",
            minutes,
        )
    return ngettext(
        "Too many failed sign-ins from your address; try again in %(num)d minute.",
        "Too many failed sign-ins from your address; try again in %(num)d minutes.",
        minutes,
    )


@bp.post("/logout")
def logout():
    # Live-update sockets this session opened end too (here at once; elsewhere by the sweep).
    current_app.extensions["phoenyra"].live.end_session(session.sid)
    session.clear()  # on the server: copies of the cookie sign no one in
    flash(_("Signed out."), "success")
    # The old id is deleted too; the message is kept under a new one.
    current_app.session_interface.regenerate(session)
    return redirect(url_for("auth.login"))
