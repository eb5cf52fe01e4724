"""learner: Ana — "a catalog does not change that often, five minutes is fine".
mistake: validators and 304s are right, dashboards private — but the catalog says
max-age=300: five minutes in which any cache may show an old price, where the shop
allows one minute.
expected: fails the gate on the lifetime ("may be served by a cache for 300 s"),
and on the stale reads it allows.
"""

from flask import Flask, abort, jsonify, request

FIVE_MINUTES = 300


def create_app(shop):
    app = Flask(__name__)

    def revalidate(response, tag):
        response.set_etag(tag)
        return response.make_conditional(request)

    def catalog(response):
        response.cache_control.public = True
        response.cache_control.max_age = FIVE_MINUTES
        return response

    def stamp(reviews):
        return ".".join(f"{r.id}v{r.version}" for r in sorted(reviews, key=lambda r: r.id))

    @app.get("/products/<int:pid>")
    def product(pid):
        item = shop.product(pid)
        if item is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        tag = f"{pid}/{item.version}/{stamp(shop.reviews_for(pid))}/{lang}"
        if tag in request.if_none_match:
            response = app.response_class(status=304)
        else:
            response = jsonify(shop.render_product(pid, lang))
        response.vary.add("Accept-Language")
        return catalog(revalidate(response, tag))

    @app.get("/products/<int:pid>/reviews")
    def reviews(pid):
        if shop.product(pid) is None:
            abort(404)
        tag = f"reviews/{pid}/{stamp(shop.reviews_for(pid))}"
        if tag in request.if_none_match:
            response = app.response_class(status=304)
        else:
            response = jsonify(shop.render_reviews(pid))
        return catalog(revalidate(response, tag))

    @app.get("/users/<int:uid>/dashboard")
    def dashboard(uid):
        if shop.user_for(request.headers.get("Authorization")) != uid:
            abort(403)
        me = shop.user(uid)
        tag = f"me/{uid}/{me.version}/{stamp(shop.reviews_by(uid))}"
        if tag in request.if_none_match:
            response = app.response_class(status=304)
        else:
            response = jsonify(shop.render_dashboard(uid))
        response.cache_control.private = True
        response.cache_control.no_cache = True
        return revalidate(response, tag)

    return app
