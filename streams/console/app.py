"""The approval console: a Starlette app where people review remediation requests and decide them.

Pages: the pending requests (``/``), one request (``/requests/<id>``: the analysis summary,
evidence, risk factors, the exact actions, the Terraform diff, who approved so far, and for
approvers the approve/reject form with its reason), the history with filters (``/history``), the
login (``/login``) and the signed one-click links from chat (``/r/<id>?sig=``), which open a
request but still require a login. Decisions go to the :class:`~processors.remediation.desk.
ApprovalDesk` with ``channel="console"`` and the digest of the plan the page showed; the desk
decides what the vote means. Guards are in :mod:`streams.console.security`; the Slack button
endpoint, when configured, is mounted here too (:mod:`streams.console.slack`).

Alert and plan text is untrusted: the templates escape everything (Jinja2 autoescaping) and the
Content-Security-Policy allows no script at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from processors.remediation.desk import ApprovalDesk, DeskVerdict, Vote
from processors.remediation.history import HistoryQuery
from streams.console.links import LinkSigner
from streams.console.security import (SecurityHeaders, checked_form, csrf_token, current_user, flash, log_in,
                                      log_out)
from streams.console.oidc import OidcLogin
from streams.console.users import Principal, UserStore

__all__ = ["ConsoleApp", "HISTORY_STATUSES", "build_console_app"]

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
HISTORY_STATUSES = ("approved", "rejected", "expired", "executed")
_MAX_REASON = 2000


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(_HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return Jinja2Templates(env=env)


def _local_path(target: str | None) -> str:
    """``target`` when it is a path on this site (never ``//host`` or a full URL), else ``/``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


class ConsoleApp:
    """The console's routes over one desk and one user store; :attr:`app` is the ASGI app."""

    def __init__(self, desk: ApprovalDesk, users: UserStore, *, session_secret: str, links: LinkSigner,
                 secure_cookies: bool = True, session_max_age_s: int = 8 * 3600,
                 extra_routes: Sequence[Route] = (), sso: OidcLogin | None = None) -> None:
        self.desk = desk
        self.users = users
        self.sso = sso
        self.links = links
        self.templates = _templates()
        routes = [
            Route("/", self.pending, methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/requests/{request_id}", self.request_page, methods=["GET"]),
            Route("/requests/{request_id}/decision", self.decide, methods=["POST"]),
            Route("/history", self.history, methods=["GET"]),
            Route("/r/{request_id}", self.one_click, methods=["GET"]),
            Route("/static/console.css", self.stylesheet, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            *(sso.routes() if sso is not None else []),
            *extra_routes,
        ]
        middleware = [
            Middleware(SecurityHeaders),
            Middleware(SessionMiddleware, secret_key=session_secret, session_cookie="prismaflow_console",
                       max_age=session_max_age_s, same_site="strict", https_only=secure_cookies),
        ]
        self.app = Starlette(routes=routes, middleware=middleware)

    # -- helpers -----------------------------------------------------------------------------------

    def _resolve(self, name: str, source: str) -> Principal | None:
        """A session's user with their current role: from the user store, or the SSO role mapping."""
        if source == "local":
            return self.users.principal(name)
        return self.sso.principal(name) if source == "sso" and self.sso is not None else None

    def _render(self, request: Request, name: str, user: Principal | None, status_code: int = 200,
                **context: object) -> Response:
        context.update(user=user, csrf=csrf_token(request), message=flash(request), sso=self.sso is not None)
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def _user_or_login(self, request: Request) -> Principal | RedirectResponse:
        user = current_user(request, self._resolve)
        if user is None:
            return RedirectResponse("/login?next=" + quote(request.url.path, safe="/"), status_code=303)
        return user

    # -- pages -------------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, request: Request) -> Response:
        """Ready when the desk answers (the approval service's API, for a deployed console): a console that
        cannot reach it could show nothing and record no vote."""
        try:
            self.desk.pending()
        except Exception as exc:  # noqa: BLE001 - any failure of the desk means not ready; the probe says why
            log.warning("console not ready: the approval desk does not answer error=%s", type(exc).__name__)
            return PlainTextResponse("approval service unreachable", status_code=503)
        return PlainTextResponse("ready")

    async def stylesheet(self, request: Request) -> Response:
        return Response((_HERE / "static" / "console.css").read_text(encoding="utf-8"), media_type="text/css")

    async def login_page(self, request: Request) -> Response:
        return self._render(request, "login.html", None, next=_local_path(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await checked_form(request)
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        target = _local_path(str(form.get("next", "/")))
        user = self.users.authenticate(name, password)
        if user is None:
            log.info("console login refused")  # never the name typed: it may be a password
            flash(request, "Wrong user name or password.")
            return self._render(request, "login.html", None, status_code=401, next=target)
        log_in(request, Principal(user.name, user.role))
        log.info("console login user=%s role=%s", user.name, user.role.value)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request) -> Response:
        await checked_form(request)
        log_out(request)
        return RedirectResponse("/login", status_code=303)

    async def pending(self, request: Request) -> Response:
        user = self._user_or_login(request)
        if isinstance(user, RedirectResponse):
            return user
        return self._render(request, "pending.html", user, requests=list(self.desk.pending()))

    async def request_page(self, request: Request) -> Response:
        user = self._user_or_login(request)
        if isinstance(user, RedirectResponse):
            return user
        found = self.desk.get(request.path_params["request_id"])
        if found is None:
            raise HTTPException(404, "no such request")
        return self._render(request, "request.html", user, request_=found,
                            may_decide=user.role.may_decide and found.status == "pending")

    async def decide(self, request: Request) -> Response:
        form = await checked_form(request)
        user = current_user(request, self._resolve)
        if user is None or not user.role.may_decide:
            raise HTTPException(403, "only approvers decide")
        request_id = request.path_params["request_id"]
        vote_text, reason = str(form.get("vote", "")), str(form.get("reason", "")).strip()
        if vote_text not in (Vote.APPROVE.value, Vote.REJECT.value):
            raise HTTPException(400, "vote must be approve or reject")
        if not reason or len(reason) > _MAX_REASON:
            flash(request, f"A reason is required (at most {_MAX_REASON} characters).")
            return RedirectResponse(f"/requests/{quote(request_id, safe='')}", status_code=303)
        outcome = self.desk.decide(request_id, approver=user.name, vote=Vote(vote_text),
                                   plan_digest=str(form.get("plan_digest", "")), reason=reason, channel="console")
        log.info("console vote request=%s user=%s vote=%s verdict=%s", request_id, user.name, vote_text,
                 outcome.verdict.value)
        if outcome.verdict is DeskVerdict.REFUSED:
            flash(request, f"Not recorded: {outcome.reason}")
        elif outcome.verdict is DeskVerdict.DECIDED:
            flash(request, f"Recorded: the request is now {outcome.reason}.")
        else:
            flash(request, "Recorded: the request needs more approvals.")
        return RedirectResponse(f"/requests/{quote(request_id, safe='')}", status_code=303)

    async def history(self, request: Request) -> Response:
        user = self._user_or_login(request)
        if isinstance(user, RedirectResponse):
            return user
        query = request.query_params
        status, alert_id = query.get("status", ""), query.get("alert_id", "").strip()
        since, until = _parse_date(query.get("since")), _parse_date(query.get("until"))
        wanted = HistoryQuery(status=status, alert_id=alert_id, since=since, until=until, limit=500)
        shown = [r for r in self.desk.history(limit=wanted.limit) if wanted.admits(r.status, r.alert_id, r.requested_at)]
        return self._render(request, "history.html", user, requests=shown, statuses=HISTORY_STATUSES,
                            filters={"status": status, "alert_id": alert_id, "since": query.get("since", ""),
                                     "until": query.get("until", "")})

    async def one_click(self, request: Request) -> Response:
        request_id = request.path_params["request_id"]
        if not self.links.valid(request_id, request.query_params.get("sig", "")):
            raise HTTPException(403, "link invalid or expired")
        target = f"/requests/{quote(request_id, safe='')}"
        if current_user(request, self._resolve) is None:
            return RedirectResponse("/login?next=" + quote(target, safe="/"), status_code=303)
        return RedirectResponse(target, status_code=303)


def build_console_app(desk: ApprovalDesk, users: UserStore, *, session_secret: str, links: LinkSigner,
                      secure_cookies: bool = True, session_max_age_s: int = 8 * 3600,
                      extra_routes: Sequence[Route] = (), sso: OidcLogin | None = None) -> Starlette:
    """The console's ASGI app (see :class:`ConsoleApp`)."""
    return ConsoleApp(desk, users, session_secret=session_secret, links=links, secure_cookies=secure_cookies,
                      session_max_age_s=session_max_age_s, extra_routes=extra_routes, sso=sso).app
