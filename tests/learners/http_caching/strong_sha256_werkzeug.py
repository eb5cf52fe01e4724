"""learner: Priya — "RFC 9111 by heart, Werkzeug all the way".
shape: strong ETags, a sha256 of every version the page shows and the language;
request.if_none_match.contains before the render, response.set_etag,
response.cache_control, response.vary.add; catalog "public, max-age=60", dashboards
"private, no-cache" with their own ETag.
expected: passes every counted check.
"""

import hashlib

from flask import Flask, Response, abort, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    def language():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def fingerprint(*parts):
        digest = hashlib.sha256()
        for part in parts:
            digest.update(repr(part).encode())
            digest.update(b"\x00")
        return digest.hexdigest()[:32]

    def review_versions(reviews):
        return sorted((r.id, r.version) for r in reviews)

    def apply_policy(resp, etag, *, public, vary_language):
        resp.set_etag(etag)
        if public:
            resp.cache_control.public = True
            resp.cache_control.max_age = 60
        else:
            resp.cache_control.private = True
            resp.cache_control.no_cache = True
        if vary_language:
            resp.vary.add("Accept-Language")
        return resp

    def respond(etag, render, *, public, vary_language=False):
        if request.if_none_match.contains(etag):
            return apply_policy(Response(status=304), etag, public=public,
                                vary_language=vary_language)
        return apply_policy(jsonify(render()), etag, public=public,
                            vary_language=vary_language)

    @app.get("/products/<int:product_id>")
    def product(product_id):
        prod = shop.product(product_id)
        if prod is None:
            abort(404)
        lang = language()
        etag = fingerprint("product", prod.id, prod.version,
                           review_versions(shop.reviews_for(product_id)), lang)
        return respond(etag, lambda: shop.render_product(product_id, lang),
                       public=True, vary_language=True)

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        etag = fingerprint("reviews", product_id,
                           review_versions(shop.reviews_for(product_id)))
        return respond(etag, lambda: shop.render_reviews(product_id), public=True)

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        etag = fingerprint("dashboard", user_id, user.version,
                           review_versions(shop.reviews_by(user_id)))
        return respond(etag, lambda: shop.render_dashboard(user_id), public=False)

    return app
