"""learner: Marco — "the ETag is a hash of the response, that's what every tutorial does".
mistake: renders the page, hashes the JSON, then make_conditional: the 304s are right
and the bytes saved, but every revalidation still pays the render.
expected: fails "renders on 304 answers" only (and is slower when timed); the caching
headers themselves are right.
"""

import hashlib
import json

from flask import Flask, Response, abort, request


def create_app(shop):
    app = Flask(__name__)

    def send(page, cache_control, vary=None):
        body = json.dumps(page, sort_keys=True)
        response = Response(body, mimetype="application/json")
        response.set_etag(hashlib.sha256(body.encode()).hexdigest())
        response.headers["Cache-Control"] = cache_control
        if vary:
            response.headers["Vary"] = vary
        return response.make_conditional(request)

    @app.get("/products/<int:product_id>")
    def product(product_id):
        if shop.product(product_id) is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        return send(shop.render_product(product_id, lang), "public, max-age=60", "Accept-Language")

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        return send(shop.render_reviews(product_id), "public, max-age=60")

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        return send(shop.render_dashboard(user_id), "private, no-cache")

    return app
