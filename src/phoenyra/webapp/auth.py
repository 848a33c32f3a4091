"""Sign-in and sign-out; who the current user is, for every request."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from .users import User

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "static", "views.healthz", "views.readyz", "i18n.set_language"}
)
DEV_USER = User("developer", "admin")


def wants_json() -> bool:
    p = request.path
    return p.startswith("/api/") or p in ("/orders", "/trades", "/market/prices")


def json_error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


def load_user() -> User | None:
    state = current_app.extensions["phoenyra"]
    if state.settings.login_disabled:
        return DEV_USER
    name = session.get("user")
    return state.users.get(name) if name else None


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
        return render_template("login.html", next=request.args.get("next", ""))
    name = request.form.get("username", "")
    user = state.users.authenticate(name, request.form.get("password", ""))
    if user is None:
        flash(_("Wrong user name or password."), "error")
        return render_template("login.html", next=request.form.get("next", ""), username=name), 401
    session.clear()  # a fresh session: no fixation across sign-in
    session["user"] = user.name
    session.permanent = True
    flash(_("Signed in as %(name)s (%(role)s).", name=user.name, role=user.role), "success")
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    session.clear()
    flash(_("Signed out."), "success")
    return redirect(url_for("auth.login"))
