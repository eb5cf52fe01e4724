"""learner: Aisha — "never cache anything personal, let the CDN do the rest".
shape: strong ETags, an md5 of the (kind, id, version) of every row a page shows,
checked with `etag in request.if_none_match` before rendering; the catalog
"public, max-age=0, s-maxage=60" (browsers always ask, the CDN keeps 60 s), Vary in an
after_request hook; dashboards `no-store` with no validator at all.
expected: passes every check, the timed one included: the timed requests are catalog
revalidations (all 304), a no-store dashboard is not timed. (Graded by a learner, it
failed the timed check at 1.6× when dashboards were in the timed sample.)
"""

import hashlib
import json

from flask import Flask, abort, jsonify, make_response, request


def create_app(shop):
    app = Flask(__name__)

    def language():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def etag_of(kind, *rows, extra=""):
        payload = json.dumps([kind, extra, sorted([type(r).__name__, r.id, r.version] for r in rows)])
        return '"%s"' % hashlib.md5(payload.encode()).hexdigest()

    def catalog_response(etag, render):
        if etag.strip('"') in request.if_none_match:
            resp = make_response("", 304)
        else:
            resp = jsonify(render())
        resp.headers["ETag"] = etag
        resp.headers["Cache-Control"] = "public, max-age=0, s-maxage=60"
        return resp

    @app.after_request
    def vary_products(resp):
        if request.path.startswith("/products/") and not request.path.endswith("/reviews"):
            resp.headers["Vary"] = "Accept-Language"
        return resp

    @app.get("/products/<int:product_id>")
    def product(product_id):
        prod = shop.product(product_id)
        if prod is None:
            abort(404)
        lang = language()
        etag = etag_of("product", prod, *shop.reviews_for(product_id), extra=lang)
        return catalog_response(etag, lambda: shop.render_product(product_id, lang))

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        etag = etag_of("reviews", *shop.reviews_for(product_id), extra=str(product_id))
        return catalog_response(etag, lambda: shop.render_reviews(product_id))

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        resp = jsonify(shop.render_dashboard(user_id))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return app
