"""learner: Kofi — "a dashboard is private data: nobody stores it, full stop".
shape: the catalog as the brief asks (ETag from versions via Werkzeug, public,
max-age=60, Vary), written with after_request; dashboards `no-store` — always rendered,
never cached anywhere (correct, and dearer: the grade's note says so).
expected: passes every counted check.
"""

from flask import Flask, abort, g, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    def review_part(pid):
        return ",".join(f"{r.id}:{r.version}" for r in sorted(shop.reviews_for(pid), key=lambda r: r.id))

    @app.after_request
    def caching(response):
        policy = g.get("policy")
        if policy == "catalog":
            response.cache_control.public = True
            response.cache_control.max_age = 60
        elif policy == "private":
            response.headers["Cache-Control"] = "no-store"
        return response

    def conditional(tag, render):
        g.policy = "catalog"
        if tag in request.if_none_match:
            response = app.make_response(("", 304))
        else:
            response = jsonify(render())
        response.set_etag(tag)
        return response

    @app.get("/products/<int:product_id>")
    def product(product_id):
        p = shop.product(product_id)
        if p is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        response = conditional(
            f"{product_id}-{p.version}-{review_part(product_id)}-{lang}",
            lambda: shop.render_product(product_id, lang),
        )
        response.vary.add("Accept-Language")
        return response

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        return conditional(
            f"reviews-{product_id}-{review_part(product_id)}",
            lambda: shop.render_reviews(product_id),
        )

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        g.policy = "private"
        return jsonify(shop.render_dashboard(user_id))

    return app
