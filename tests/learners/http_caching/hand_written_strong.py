"""learner: Sam (backend, distrusts frameworks) — "HTTP is just strings".
shape: strong ETags from md5 of the version counters, If-None-Match parsed by hand
(lists, W/ prefixes and *), 304 built by hand; the CDN keeps the catalog
(s-maxage=60) while browsers always ask (max-age=0); dashboards
"private, max-age=0, must-revalidate".
expected: passes every counted check.
"""

import hashlib
import json

from flask import Flask, Response, request


def strong_tag(*parts):
    return '"' + hashlib.md5(json.dumps(parts).encode()).hexdigest() + '"'


def client_has(tag):
    header = request.headers.get("If-None-Match", "")
    if header.strip() == "*":
        return True
    offered = [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]
    return tag in offered


def send(tag, render, cache_control, vary=None):
    headers = {"ETag": tag, "Cache-Control": cache_control}
    if vary:
        headers["Vary"] = vary
    if client_has(tag):
        return Response(status=304, headers=headers)
    body = json.dumps(render())
    return Response(body, status=200, headers=headers, mimetype="application/json")


def create_app(shop):
    app = Flask(__name__)

    @app.route("/products/<int:pid>")
    def product(pid):
        item = shop.product(pid)
        if item is None:
            return Response(status=404)
        lang = "de" if request.headers.get("Accept-Language", "").startswith("de") else "en"
        versions = [[r.id, r.version] for r in sorted(shop.reviews_for(pid), key=lambda r: r.id)]
        tag = strong_tag("p", pid, item.version, versions, lang)
        return send(
            tag,
            lambda: shop.render_product(pid, lang),
            "public, max-age=0, s-maxage=60",
            vary="Accept-Language",
        )

    @app.route("/products/<int:pid>/reviews")
    def reviews(pid):
        if shop.product(pid) is None:
            return Response(status=404)
        versions = [[r.id, r.version] for r in sorted(shop.reviews_for(pid), key=lambda r: r.id)]
        return send(
            strong_tag("r", pid, versions),
            lambda: shop.render_reviews(pid),
            "public, max-age=0, s-maxage=60",
        )

    @app.route("/users/<int:uid>/dashboard")
    def dashboard(uid):
        if shop.user_for(request.headers.get("Authorization")) != uid:
            return Response('{"error": "forbidden"}', status=403, mimetype="application/json")
        me = shop.user(uid)
        versions = [[r.id, r.version] for r in sorted(shop.reviews_by(uid), key=lambda r: r.id)]
        return send(
            strong_tag("d", uid, me.version, versions),
            lambda: shop.render_dashboard(uid),
            "private, max-age=0, must-revalidate",
        )

    return app
