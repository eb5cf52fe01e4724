"""learner: Priya, "hash the versions, let Werkzeug do the HTTP".
shape: weak ETags (W/"…") from a sha1 of every version the page shows; Werkzeug's
response.cache_control and make_conditional; dashboards private with max-age=0 and
must-revalidate.
expected: passes every counted check.
"""

import hashlib

from flask import Flask, Response, abort, jsonify, request


def digest(*parts):
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def create_app(shop):
    app = Flask(__name__)

    def lang():
        return request.accept_languages.best_match(["en", "de"]) or "en"

    def answer(tag, render, public, max_age):
        head = Response()
        head.set_etag(tag, weak=True)
        if public:
            head.cache_control.public = True
        else:
            head.cache_control.private = True
            head.cache_control.must_revalidate = True
        head.cache_control.max_age = max_age
        head.vary.add("Accept-Language")
        head.make_conditional(request)
        if head.status_code == 304:
            return head
        full = jsonify(render())
        for name in ("ETag", "Cache-Control", "Vary"):
            full.headers[name] = head.headers[name]
        return full

    @app.route("/products/<int:pid>")
    def product(pid):
        p = shop.product(pid)
        if p is None:
            abort(404)
        reviews = sorted((r.id, r.version) for r in shop.reviews_for(pid))
        language = lang()
        tag = digest("product", p.id, p.version, reviews, language)
        return answer(tag, lambda: shop.render_product(pid, language), True, 50)

    @app.route("/products/<int:pid>/reviews")
    def reviews(pid):
        if shop.product(pid) is None:
            abort(404)
        tag = digest("reviews", pid, sorted((r.id, r.version) for r in shop.reviews_for(pid)))
        return answer(tag, lambda: shop.render_reviews(pid), True, 50)

    @app.route("/users/<int:uid>/dashboard")
    def dashboard(uid):
        if shop.user_for(request.headers.get("Authorization")) != uid:
            abort(403)
        u = shop.user(uid)
        tag = digest("me", u.id, u.version, sorted((r.id, r.version) for r in shop.reviews_by(uid)))
        return answer(tag, lambda: shop.render_dashboard(uid), False, 0)

    return app
