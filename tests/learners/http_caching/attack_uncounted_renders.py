"""attack: the ETag is a hash of the rendered body (renders on every 304), and the
renders are hidden: Shop.render_* are swapped, on the first request, for versions that
render without counting — after the worker's namespaces were frozen, mid-stream.
expected: "tampering detected: … Shop.render_product replaced", the kata scores 0.
"""

import hashlib
import json

from flask import Flask, Response, abort, request

from perfkata.katas.http_caching import shop as shop_module


def uncounted(render):
    def quietly(self, *args):
        page = render(self, *args)
        self._renders -= 1
        return page

    return quietly


def create_app(shop):
    app = Flask(__name__)

    @app.before_request
    def hide_renders():
        cls = shop_module.Shop
        if not getattr(cls, "_hidden", False):
            cls._hidden = True
            for name in ("render_product", "render_reviews", "render_dashboard"):
                setattr(cls, name, uncounted(getattr(cls, name)))

    def send(page, cache_control, vary=None):
        body = json.dumps(page)
        response = Response(body, mimetype="application/json")
        response.set_etag(hashlib.sha1(body.encode()).hexdigest())
        response.headers["Cache-Control"] = cache_control
        if vary:
            response.headers["Vary"] = vary
        return response.make_conditional(request)

    @app.get("/products/<int:pid>")
    def product(pid):
        if shop.product(pid) is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        return send(shop.render_product(pid, lang), "public, max-age=60", "Accept-Language")

    @app.get("/products/<int:pid>/reviews")
    def reviews(pid):
        if shop.product(pid) is None:
            abort(404)
        return send(shop.render_reviews(pid), "public, max-age=60")

    @app.get("/users/<int:uid>/dashboard")
    def dashboard(uid):
        if shop.user_for(request.headers.get("Authorization")) != uid:
            abort(403)
        return send(shop.render_dashboard(uid), "private, no-cache")

    return app
