"""web/flask_app.py: Flask's per-request costs taken out without changing what Flask does."""

from __future__ import annotations

from flask.views import MethodView

from web.flask_app import PnilFlask


class View(MethodView):
    def get(self):
        return "ok"


def test_a_plain_function_is_returned_as_it_is_and_checked_once():
    app = PnilFlask("t")
    first, second = View(), View()
    assert app.ensure_sync(first.get) == first.get
    assert app.ensure_sync(second.get) == second.get
    assert len(app._is_async) == 1  # one entry for the function, not one per bound method


def test_a_coroutine_function_still_goes_to_async_to_sync():
    app = PnilFlask("t")
    seen = []
    app.async_to_sync = lambda func: seen.append(func) or "wrapped"

    async def view():
        return "ok"

    assert app.ensure_sync(view) == "wrapped"
    assert app.ensure_sync(view) == "wrapped"
    assert seen == [view, view]


def test_answers_are_compact_json_in_declared_order_and_sorted_when_asked():
    app = PnilFlask("t")
    with app.app_context():
        assert app.json.dumps({"b": 1, "a": [1, "é"]}) == '{"b":1,"a":[1,"é"]}'
        assert app.json.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
        assert app.json.dumps({"n": 2**70}) == '{"n":1180591620717411303424}'
