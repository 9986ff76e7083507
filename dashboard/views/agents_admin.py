"""Admin: the AI agents that buy through the checkout API: register one (its API key is
shown once), list them, revoke a key after a ticked confirmation."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from dashboard.extensions import db
from dashboard.models import Agent
from dashboard.services import agents
from dashboard.views.access import ADMINS, roles_required
from dashboard.views.catalog_forms import AgentForm, RevokeAgentForm

bp = Blueprint("agents_admin", __name__, url_prefix="/admin/agents")


def _page(form: AgentForm | None = None) -> str:
    return render_template(
        "pages/admin/agents.html",
        agents=agents.all_agents(),
        form=form or AgentForm(formdata=None),
    )


def _agent_or_404(agent_id: int) -> Agent:
    return db.get_or_404(Agent, agent_id, description=f"There is no agent {agent_id}.")


@bp.route("")
@roles_required(*ADMINS)
def index() -> ResponseReturnValue:
    """Every agent: its key's first characters, webhook URL, limit, whether revoked."""
    return _page()


@bp.route("", methods=["POST"])
@roles_required(*ADMINS)
def register() -> ResponseReturnValue:
    """Register an agent: the page that answers shows its API key, this once."""
    form = AgentForm()
    if not form.validate_on_submit():
        return _page(form), 422
    try:
        made = agents.register(
            form.name.data or "",
            form.webhook_url.data or "",
            signing_key=form.signing_key.data or None,
            rate_limit_per_minute=form.rate_limit.data,
        )
    except agents.AgentError as error:
        form.form_errors.append(str(error))
        return _page(form), 422
    # Rendered, not redirected: the key must not travel in a URL or a flash cookie.
    return render_template("pages/admin/agent_registered.html", made=made)


@bp.route("/<int:agent_id>/revoke", methods=["GET", "POST"])
@roles_required(*ADMINS)
def revoke(agent_id: int) -> ResponseReturnValue:
    """Say what revoking does and ask for a ticked confirmation; then refuse the key."""
    agent = _agent_or_404(agent_id)
    form = RevokeAgentForm()
    if agent.revoked_at is not None:
        flash(f"{agent.name}'s key was already revoked.", "success")
        return redirect(url_for("agents_admin.index"), code=303)
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("pages/admin/agent_revoke.html", agent=agent, form=form), status
    agents.revoke(agent)
    flash(f"Revoked {agent.name}'s key: its checkout requests are refused from now on.", "success")
    return redirect(url_for("agents_admin.index"), code=303)
