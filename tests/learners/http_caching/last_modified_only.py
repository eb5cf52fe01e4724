"""learner: Tomasz — "no ETags, the rows already carry updated_at".
shape: Last-Modified only (the newest updated_at of every row the page shows), set with
response.last_modified; If-Modified-Since compared by hand; Cache-Control and Vary
written as plain header strings; dashboards "private, no-cache".
expected: passes every counted check (edits land on distinct seconds, so whole-second
dates are enough here).
"""

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from flask import Flask, abort, jsonify, make_response, request


def newest(*stamps):
    return datetime.fromtimestamp(max(stamps), tz=timezone.utc)


def create_app(shop):
    app = Flask(__name__)

    def not_modified_since(changed):
        asked = request.headers.get("If-Modified-Since")
        if not asked:
            return False
        try:
            return parsedate_to_datetime(asked) >= changed
        except (TypeError, ValueError):
            return False

    def reply(changed, render, cache_control, vary=None):
        if not_modified_since(changed):
            response = make_response("", 304)
        else:
            response = jsonify(render())
        response.last_modified = changed
        response.headers["Cache-Control"] = cache_control
        if vary:
            response.headers["Vary"] = vary
        return response

    @app.get("/products/<int:product_id>")
    def product(product_id):
        item = shop.product(product_id)
        if item is None:
            abort(404)
        changed = newest(item.updated_at, *(r.updated_at for r in shop.reviews_for(product_id)))
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        return reply(
            changed,
            lambda: shop.render_product(product_id, lang),
            "public, max-age=60",
            vary="Accept-Language",
        )

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        item = shop.product(product_id)
        if item is None:
            abort(404)
        stamps = [r.updated_at for r in shop.reviews_for(product_id)] or [item.updated_at]
        changed = newest(*stamps)
        return reply(changed, lambda: shop.render_reviews(product_id), "public, max-age=60")

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        changed = newest(user.updated_at, *(r.updated_at for r in shop.reviews_by(user_id)))
        return reply(changed, lambda: shop.render_dashboard(user_id), "private, no-cache")

    return app
