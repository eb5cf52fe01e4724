"""learner: Olu — "the product has a version, that's its validator".
mistake: the product page's ETag is the product's own version (and the language);
reviews bump only their own versions, so after a new or edited review the app keeps
answering 304 to the old ETag and every cache keeps the old rating.
expected: fails the gate: "the app answered 304 to If-None-Match … the validator did
not change when the page did".
"""

from flask import Flask, Response, abort, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    def conditional(etag, cache_control, render, vary=None):
        probe = Response()
        probe.set_etag(etag)
        probe.headers["Cache-Control"] = cache_control
        if vary:
            probe.headers["Vary"] = vary
        probe.make_conditional(request)
        if probe.status_code == 304:
            return probe
        response = jsonify(render())
        response.headers.extend(probe.headers.items())
        return response

    @app.get("/products/<int:product_id>")
    def product(product_id):
        found = shop.product(product_id)
        if found is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        return conditional(
            f"product-{found.id}-v{found.version}-{lang}",
            "public, max-age=60",
            lambda: shop.render_product(product_id, lang),
            vary="Accept-Language",
        )

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        versions = "-".join(f"{r.id}.{r.version}" for r in shop.reviews_for(product_id))
        return conditional(
            f"reviews-{product_id}-{versions}",
            "public, max-age=60",
            lambda: shop.render_reviews(product_id),
        )

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        versions = "-".join(f"{r.id}.{r.version}" for r in shop.reviews_by(user_id))
        return conditional(
            f"dash-{user.id}-v{user.version}-{versions}",
            "private, no-cache",
            lambda: shop.render_dashboard(user_id),
        )

    return app
