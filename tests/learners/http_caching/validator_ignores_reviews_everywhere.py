"""learner: Marco — "the product's version moves whenever anything about it changes".
mistake: weak ETags from product.version (product page and reviews) and user.version
(dashboard): a new or edited review changes no validator, on all three routes.
expected: fails the gate, with a line for each of the three routes (a learner once saw
only the dashboard's, fixed it, and learned of the catalog's on the next grade).
"""

from flask import Flask, Response, abort, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    def language():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def answer(etag, render, public, vary=False):
        if request.if_none_match.contains_weak(etag):
            resp = Response(status=304)
        else:
            resp = jsonify(render())
        resp.set_etag(etag, weak=True)
        if public:
            resp.cache_control.public = True
            resp.cache_control.max_age = 60
        else:
            resp.cache_control.private = True
            resp.cache_control.no_cache = True
        if vary:
            resp.vary.add("Accept-Language")
        return resp

    @app.get("/products/<int:product_id>")
    def product(product_id):
        prod = shop.product(product_id)
        if prod is None:
            abort(404)
        lang = language()
        return answer("p%d-v%d-%s" % (product_id, prod.version, lang),
                      lambda: shop.render_product(product_id, lang), True, vary=True)

    @app.get("/products/<int:product_id>/reviews")
    def reviews(product_id):
        prod = shop.product(product_id)
        if prod is None:
            abort(404)
        return answer("r%d-v%d" % (product_id, prod.version),
                      lambda: shop.render_reviews(product_id), True)

    @app.get("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        return answer("u%d-v%d" % (user_id, user.version),
                      lambda: shop.render_dashboard(user_id), False)

    return app
