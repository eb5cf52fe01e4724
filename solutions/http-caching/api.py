"""Reference solution: strong ETags made from version counters (no render needed to know
them), 304s through Werkzeug's `make_conditional`, and Cache-Control per resource:

- product pages and reviews: `public, max-age=60` — the shop allows a minute — with
  `Vary: Accept-Language` on the product page, whose text depends on it;
- dashboards: `private, no-cache` — the user's browser keeps a copy but asks every time,
  a 304 when nothing changed; a shared cache never stores one.

The product page's ETag covers its reviews too (their ids and versions): a new or edited
review changes the rating it shows.
"""

from flask import Flask, Response, abort, jsonify, request

CATALOG_SECONDS = 60


def create_app(shop):
    app = Flask(__name__)

    def language():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def reviews_tag(reviews):
        return "-".join(f"{r.id}.{r.version}" for r in sorted(reviews, key=lambda r: r.id))

    def conditional(etag, render, cache_control, vary=None):
        """304 before rendering when the client's copy is current; else the page."""
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
        lang = language()
        etag = f"p{found.id}-v{found.version}-r{reviews_tag(shop.reviews_for(product_id))}-{lang}"
        return conditional(
            etag,
            lambda: shop.render_product(product_id, lang),
            f"public, max-age={CATALOG_SECONDS}",
            vary="Accept-Language",
        )

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        etag = f"r{product_id}-{reviews_tag(shop.reviews_for(product_id))}"
        return conditional(
            etag, lambda: shop.render_reviews(product_id), f"public, max-age={CATALOG_SECONDS}"
        )

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        etag = f"u{user.id}-v{user.version}-r{reviews_tag(shop.reviews_by(user_id))}"
        return conditional(etag, lambda: shop.render_dashboard(user_id), "private, no-cache")

    return app
