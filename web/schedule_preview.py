"""GET /schedules/preview: the next runs of a cron expression (the console shows them as you type)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from scheduler import ticks
from web.blueprint import Blueprint

blp = Blueprint("schedules", __name__, description="Preview a schedule")


class PreviewQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    cron = fields.String(
        required=True,
        metadata={"description": "5 fields: minute hour day month weekday", "pattern": ticks.CRON_PATTERN},
    )
    timezone = fields.String(load_default="UTC", metadata={"enum": ticks.TIMEZONES})
    count = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class PreviewSchema(Schema):
    nextRuns = fields.List(fields.String(), metadata={"description": "ISO 8601 times, soonest first"})


@blp.route("/schedules/preview")
class SchedulePreview(MethodView):
    @blp.arguments(PreviewQuerySchema, location="query")
    @blp.response(200, PreviewSchema)
    def get(self, query):
        """The next `count` runs of a cron expression in a timezone; 400 says what is wrong with it."""
        runs, after = [], datetime.now(UTC)
        try:
            for _ in range(query["count"]):
                tick = ticks.next_tick(query["cron"], query["timezone"], after)
                if tick is None:
                    break
                runs.append(tick.isoformat())
                after = tick
        except ticks.InvalidSchedule as exc:
            abort(400, message=str(exc))
        return {"nextRuns": runs}
