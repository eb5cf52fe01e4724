"""learner: Tom — "Last-Modified looked simplest".
shape: no ETag: Last-Modified = the newest updated_at of every row the page shows, set
on a response not yet rendered, then response.make_conditional(request) (which adds a
Date from the wall clock — the server's Date replaces it); the page rendered only when
that did not turn into a 304; catalog "public, max-age=60", dashboards "private, no-cache".
expected: passes every counted check.
"""

from datetime import datetime, timezone

from flask import Flask, Response, abort, request


def create_app(shop):
    app = Flask(__name__)

    def language():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def newest(*rows):
        stamp = max((row.updated_at for row in rows), default=0)
        return datetime.fromtimestamp(stamp, tz=timezone.utc)

    def conditional(last_modified, render, *, public, vary_language=False):
        resp = Response(mimetype="application/json")
        resp.last_modified = last_modified
        if public:
            resp.cache_control.public = True
            resp.cache_control.max_age = 60
        else:
            resp.cache_control.private = True
            resp.cache_control.no_cache = True
        if vary_language:
            resp.vary.add("Accept-Language")
        resp.make_conditional(request)
        if resp.status_code == 304:
            return resp
        resp.set_data(app.json.dumps(render()) + "\n")
        return resp

    @app.get("/products/<int:product_id>")
    def product(product_id):
        prod = shop.product(product_id)
        if prod is None:
            abort(404)
        lang = language()
        lm = newest(prod, *shop.reviews_for(product_id))
        return conditional(lm, lambda: shop.render_product(product_id, lang),
                           public=True, vary_language=True)

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        prod = shop.product(product_id)
        if prod is None:
            abort(404)
        # the reviews page shows only reviews; with none, fall back to the product
        rows = list(shop.reviews_for(product_id)) or [prod]
        lm = newest(*rows)
        return conditional(lm, lambda: shop.render_reviews(product_id), public=True)

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        lm = newest(user, *shop.reviews_by(user_id))
        return conditional(lm, lambda: shop.render_dashboard(user_id), public=False)

    return app
