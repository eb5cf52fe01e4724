"""The shop's JSON API. Correct — and every request renders its page from scratch, sends
no validator and no Cache-Control, so every poll costs a full render and a full body.

`perfkata grade` calls create_app(shop) once and sends the requests of several users
(each with its `Authorization: Bearer …` and `Accept-Language: en` or `de`) through
their own browser caches and one shared cache (a CDN) to this app. `shop` gives cheap
lookups of rows with their `version` and `updated_at`, and the expensive renders.
"""

from flask import Flask, abort, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    def language():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    @app.get("/products/<int:product_id>")
    def product(product_id):
        if shop.product(product_id) is None:
            abort(404)
        # TODO: a validator from the product's (and its reviews') versions; a 304 when
        # the client's copy is current; Cache-Control fit for a public catalog; the page
        # depends on Accept-Language.
        return jsonify(shop.render_product(product_id, language()))

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        # TODO: the same for the reviews list.
        return jsonify(shop.render_reviews(product_id))

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        # TODO: one user's page: never stored by a shared cache (private, or no-store —
        # never public); always current.
        return jsonify(shop.render_dashboard(user_id))

    return app
