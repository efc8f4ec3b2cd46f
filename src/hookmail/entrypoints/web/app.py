"""Mount the dashboard on the API's Falcon app: `/` for pages, `/static/` for the stylesheet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import falcon

from hookmail.core.errors import DomainError, NotFound
from hookmail.entrypoints.container import Container
from hookmail.entrypoints.http import errors
from hookmail.entrypoints.web.guard import DashboardGuard
from hookmail.entrypoints.web.pages import (
    account,
    auth,
    domains,
    messages,
    overview,
    policies,
    reset,
    webhooks,
)
from hookmail.entrypoints.web.site import Site

STATIC = Path(__file__).parent / "static"

WsgiApp = falcon.App[falcon.Request, falcon.Response]


def add_dashboard(app: WsgiApp, container: Container) -> None:
    """Add the dashboard's routes, its middleware and its error pages to `app`."""
    settings = container.settings()
    site = Site.create(
        container.uow,
        container.clock(),
        public_url=settings.public_url,
        smtp_hostname=settings.smtp_hostname,
    )
    hasher, limits = container.hasher(), container.limits()
    app.add_middleware(DashboardGuard(site))
    app.add_static_route("/static", STATIC)

    app.add_route("/", overview.Overview(site))
    sign_in = auth.SignIn(site, hasher, limits)
    app.add_route("/signin", sign_in)
    app.add_route("/signin/code", sign_in, suffix="code")
    app.add_route("/signup", auth.SignUp(site, hasher, container.emails(), limits))
    app.add_route("/signout", auth.SignOut(site))
    forgot = reset.ForgotPassword(
        site,
        container.mailer(),
        limits,
        container.background(),
        public_url=settings.public_url,
    )
    app.add_route("/forgot-password", forgot)
    app.add_route("/reset-password", reset.ResetPassword(site, hasher, limits))

    pages = domains.Domains(site, container.dns(), container.quotas())
    app.add_route("/domains", pages)
    app.add_route("/domains/{id:uuid}/verify", pages, suffix="verify")
    app.add_route("/domains/{id:uuid}/delete", pages, suffix="delete")

    policy_pages = policies.Policies(site, container.credential_hasher(), container.quotas())
    app.add_route("/policies", policy_pages)
    app.add_route("/policies/{id:uuid}", policy_pages, suffix="item")
    app.add_route("/policies/{id:uuid}/delete", policy_pages, suffix="delete")

    hooks = webhooks.WebhookPages(site, container.spf(), container.dkim(), container.quotas())
    app.add_route("/webhooks", hooks)
    app.add_route("/webhooks/{id:uuid}", hooks, suffix="item")
    for action in ("pause", "resume", "secret", "test", "delete"):
        app.add_route(f"/webhooks/{{id:uuid}}/{action}", hooks, suffix=action)

    mail = messages.MessagePages(site, container.delivery_config)
    app.add_route("/messages", mail)
    app.add_route("/messages/{id:uuid}", mail, suffix="item")
    app.add_route("/messages/{id:uuid}/raw", mail, suffix="raw")
    app.add_route("/messages/{id:uuid}/replay", mail, suffix="replay")

    me = account.AccountPage(site, hasher, limits)
    app.add_route("/account", me)
    app.add_route("/account/timezone", me, suffix="timezone")
    app.add_route("/account/password", me, suffix="password")
    app.add_route("/account/2fa/setup", me, suffix="setup")
    app.add_route("/account/2fa/enable", me, suffix="enable")
    app.add_route("/account/2fa/codes", me, suffix="codes")
    app.add_route("/account/2fa/disable", me, suffix="disable")
    app.add_route("/account/delete", me, suffix="delete")

    app.add_error_handler(DomainError, _pages_or_api(site))


def _pages_or_api(
    site: Site,
) -> Callable[[falcon.Request, falcon.Response, DomainError, object], None]:
    """A refusal on a page GET (another account's webhook) is an HTML page with the API's
    status; on the API it stays JSON."""

    def handle(req: falcon.Request, resp: falcon.Response, ex: DomainError, params: object) -> None:
        if not req.context.get("dashboard"):
            errors.handle_domain_error(req, resp, ex, params)
            return
        resp.status = errors.status_for(ex)
        template = "not_found.html" if isinstance(ex, NotFound) else "refused.html"
        site.render(req, resp, template)

    return handle
