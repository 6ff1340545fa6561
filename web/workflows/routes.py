"""Workflow runs: submit a canvas, read a run and its tree, list runs, cancel one."""

from __future__ import annotations

from flask.views import MethodView

from store import workflows as store
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool
from web.workflows.schemas import RunFilterSchema, RunRequestSchema, RunSchema, RunSummarySchema
from workflows import runs

blp = Blueprint("workflows", __name__, description="Workflows: chains, groups and chords of functions")


def accepted(run_id) -> tuple:
    """202 with the run and its Location."""
    with pool().connection() as conn:
        row = runs.get(conn, current().tenant_id, run_id)
    return RunSchema().dump(row), 202, {"Location": f"/workflows/runs/{run_id}"}


@blp.route("/workflows/runs")
class Runs(MethodView):
    @blp.arguments(RunRequestSchema())
    @blp.response(202, RunSchema)
    @blp.alt_response(
        400, description="a malformed node or a function unknown or not runnable (errors.pointer)"
    )
    def post(self, body):
        """Start a run of a canvas; poll `Location` until it ends."""
        with pool().connection() as conn:
            run_id = runs.submit(
                conn,
                current().tenant_id,
                steps=body["steps"],
                input_value=body["input"],
                on_failure=body["onFailure"],
            )
        return accepted(run_id)

    @blp.arguments(RunFilterSchema, location="query")
    @blp.response(200, RunSummarySchema(many=True))
    def get(self, query):
        """The tenant's runs, newest first (`?status=&limit=&offset=`)."""
        with pool().connection() as conn:
            return store.list_page(
                conn,
                current().tenant_id,
                status=query["status"],
                limit=query["limit"],
                offset=query["offset"],
            )


@blp.route("/workflows/runs/<uuid:run_id>")
class RunById(MethodView):
    @blp.response(200, RunSchema)
    @blp.alt_response(404, description="unknown run")
    def get(self, run_id):
        """One run: status, input, output, error, timestamps and the tree of its steps."""
        with pool().connection() as conn:
            return runs.get(conn, current().tenant_id, run_id)


@blp.route("/workflows/runs/<uuid:run_id>/cancel")
class CancelRun(MethodView):
    @blp.response(200, RunSchema)
    @blp.alt_response(404, description="unknown run")
    @blp.alt_response(409, description="the run already ended")
    def post(self, run_id):
        """Cancel a run: its PENDING steps at once, its RUNNING ones through the execution cancel."""
        tenant_id = current().tenant_id
        with pool().connection() as conn:
            runs.cancel(conn, tenant_id, run_id)
            return runs.get(conn, tenant_id, run_id)
