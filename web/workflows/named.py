"""Named workflows: PUT a canvas under a name (versioned), read it and its versions, run it."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from store import workflow_definitions as store
from web.auth import current
from web.db import pool
from web.workflows.routes import accepted, blp
from web.workflows.schemas import (
    NamedRunRequestSchema,
    PageSchema,
    RunSchema,
    WorkflowPutSchema,
    WorkflowSchema,
    WorkflowVersionSchema,
)
from workflows import definitions

RESERVED = ("runs",)  # web/paths.py WORKFLOW_NAME states this rule in the OpenAPI document


def _check_name(name: str) -> None:
    if name in RESERVED or len(name) > 200 or any(ord(c) < 32 for c in name) or name != name.strip():
        abort(
            400,
            message=f"{name!r} cannot name a workflow: 1 to 200 characters, not 'runs', "
            "no control characters",
        )


def _workflow(conn, name: str) -> dict:
    _check_name(name)
    return definitions.get(conn, current().tenant_id, name)


@blp.route("/workflows")
class Workflows(MethodView):
    @blp.arguments(PageSchema, location="query")
    @blp.response(200, WorkflowSchema(many=True))
    def get(self, page):
        """The tenant's named workflows, by name."""
        with pool().connection() as conn:
            return store.list_page(conn, current().tenant_id, limit=page["limit"], offset=page["offset"])


@blp.route("/workflows/<workflow:name>")
class WorkflowByName(MethodView):
    @blp.arguments(WorkflowPutSchema())
    @blp.response(200, WorkflowSchema)
    @blp.alt_response(201, description="created (version 1)")
    @blp.alt_response(400, description="a malformed node or an unknown function (errors.pointer)")
    def put(self, body, name):
        """Create or change a workflow; a new canvas is a new version (runs record which they ran)."""
        _check_name(name)
        change = body.pop("change_description")
        principal = current()
        with pool().connection() as conn:
            row, created = definitions.put(
                conn, principal.tenant_id, name, body, actor=principal.actor, change=change
            )
        return WorkflowSchema().dump(row), 201 if created else 200

    @blp.response(200, WorkflowSchema)
    @blp.alt_response(404, description="unknown workflow")
    def get(self, name):
        """One workflow: its current canvas, version and trigger."""
        with pool().connection() as conn:
            return _workflow(conn, name)

    @blp.response(204)
    @blp.alt_response(404, description="unknown workflow")
    def delete(self, name):
        """Delete the workflow and its versions (its runs stay)."""
        _check_name(name)
        with pool().connection() as conn:
            if not store.delete(conn, current().tenant_id, name):
                abort(404, message=f"workflow {name!r} not found")


@blp.route("/workflows/<workflow:name>/versions")
class WorkflowVersions(MethodView):
    @blp.response(200, WorkflowVersionSchema(many=True))
    @blp.alt_response(404, description="unknown workflow")
    def get(self, name):
        """Every version of the workflow, newest first, with its canvas."""
        with pool().connection() as conn:
            return store.versions(conn, _workflow(conn, name)["id"])


@blp.route("/workflows/<workflow:name>/runs")
class WorkflowRuns(MethodView):
    @blp.arguments(NamedRunRequestSchema())
    @blp.response(202, RunSchema)
    @blp.alt_response(400, description="a step's function cannot run now (errors.pointer)")
    @blp.alt_response(404, description="unknown workflow")
    def post(self, body, name):
        """Run the workflow's current version with `input`; poll `Location` until it ends."""
        with pool().connection() as conn:
            workflow = _workflow(conn, name)
            run_id = definitions.start(conn, workflow, body["input"])
        return accepted(run_id)
