"""learner: Jess — one caching policy for the whole API, set in after_request.
mistake: every 200 gets "public, max-age=30" — dashboards included. The CDN stores a
user's dashboard (the request carried Authorization, but `public` allows it) and hands
it to the next user who opens that address.
expected: fails the gate ("user 9 received user 7's dashboard"), and the dashboard's
lifetime is past the shop's 0 s.
"""

from flask import Flask, abort, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    @app.after_request
    def cache_everything(response):
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = "public, max-age=30"
            response.headers["Vary"] = "Accept-Language"
        return response

    def tag_for(*parts):
        return "-".join(str(p) for p in parts)

    def conditional(tag, render):
        if tag in request.if_none_match:
            response = app.make_response(("", 304))
        else:
            response = jsonify(render())
        response.set_etag(tag)
        return response

    @app.get("/products/<int:pid>")
    def product(pid):
        p = shop.product(pid)
        if p is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        revs = [(r.id, r.version) for r in shop.reviews_for(pid)]
        return conditional(tag_for("p", pid, p.version, revs, lang), lambda: shop.render_product(pid, lang))

    @app.get("/products/<int:pid>/reviews")
    def reviews(pid):
        if shop.product(pid) is None:
            abort(404)
        revs = [(r.id, r.version) for r in shop.reviews_for(pid)]
        return conditional(tag_for("r", pid, revs), lambda: shop.render_reviews(pid))

    @app.get("/users/<int:uid>/dashboard")
    def dashboard(uid):
        if shop.user_for(request.headers.get("Authorization")) != uid:
            abort(403)
        u = shop.user(uid)
        revs = [(r.id, r.version) for r in shop.reviews_by(uid)]
        return conditional(tag_for("d", uid, u.version, revs), lambda: shop.render_dashboard(uid))

    return app
