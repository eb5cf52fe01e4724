"""learner: Lena — a small helper class, both validators, counters not hashes.
shape: ETag = "<version>.<review count>.<sum of review versions>" (every change raises
one of them), plus Last-Modified; Werkzeug's make_conditional; catalog
"public, max-age=30, s-maxage=60"; dashboards private, no-cache.
expected: passes every counted check.
"""

from datetime import datetime, timezone

from flask import Flask, Response, abort, jsonify, request


class Page:
    def __init__(self, tag, changed, render, cache_control, vary=None):
        self.tag, self.changed, self.render = tag, changed, render
        self.cache_control, self.vary = cache_control, vary

    def respond(self):
        head = Response(status=200)
        head.set_etag(self.tag)
        head.last_modified = datetime.fromtimestamp(self.changed, tz=timezone.utc)
        head.headers["Cache-Control"] = self.cache_control
        if self.vary:
            head.headers["Vary"] = self.vary
        head = head.make_conditional(request)
        if head.status_code == 304:
            return head
        full = jsonify(self.render())
        for key in ("ETag", "Last-Modified", "Cache-Control", "Vary"):
            if key in head.headers:
                full.headers[key] = head.headers[key]
        return full


def counters(rows):
    rows = list(rows)
    return f"{len(rows)}.{sum(r.version for r in rows)}", max(
        (r.updated_at for r in rows), default=0
    )


CATALOG = "public, max-age=30, s-maxage=60"


def create_app(shop):
    app = Flask(__name__)

    @app.get("/products/<int:pid>")
    def product(pid):
        p = shop.product(pid)
        if not p:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        tag, newest = counters(shop.reviews_for(pid))
        return Page(
            f"{lang}.{p.version}.{tag}",
            max(p.updated_at, newest),
            lambda: shop.render_product(pid, lang),
            CATALOG,
            "Accept-Language",
        ).respond()

    @app.get("/products/<int:pid>/reviews")
    def reviews(pid):
        p = shop.product(pid)
        if not p:
            abort(404)
        tag, newest = counters(shop.reviews_for(pid))
        return Page(
            f"rv.{tag}", max(p.updated_at, newest), lambda: shop.render_reviews(pid), CATALOG
        ).respond()

    @app.get("/users/<int:uid>/dashboard")
    def dashboard(uid):
        if shop.user_for(request.headers.get("Authorization")) != uid:
            abort(403)
        u = shop.user(uid)
        tag, newest = counters(shop.reviews_by(uid))
        return Page(
            f"u.{u.version}.{tag}",
            max(u.updated_at, newest),
            lambda: shop.render_dashboard(uid),
            "private, no-cache",
        ).respond()

    return app
