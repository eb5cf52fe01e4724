"""learner: Henrik — versions, 304s, public catalog, private dashboards: all there.
mistake: the product page is rendered in the reader's language, but the response has
no Vary: Accept-Language — the ETag names the language, yet the shared cache stores
one copy per address and hands the German page to English readers until it expires.
expected: fails the gate: "received the de page from the shared cache … add Vary:
Accept-Language".
"""

from flask import Flask, Response, abort, jsonify, request


def create_app(shop):
    app = Flask(__name__)

    def with_validator(etag, policy, render):
        head = Response()
        head.set_etag(etag)
        head.headers["Cache-Control"] = policy
        head.make_conditional(request)
        if head.status_code == 304:
            return head
        page = jsonify(render())
        page.set_etag(etag)
        page.headers["Cache-Control"] = policy
        return page

    def review_versions(reviews):
        return "-".join(f"{r.id}.{r.version}" for r in sorted(reviews, key=lambda r: r.id))

    @app.route("/products/<int:product_id>")
    def product(product_id):
        found = shop.product(product_id)
        if found is None:
            abort(404)
        lang = request.accept_languages.best_match(["en", "de"]) or "en"
        etag = f"{lang}-{found.version}-{review_versions(shop.reviews_for(product_id))}"
        return with_validator(
            etag, "public, max-age=60", lambda: shop.render_product(product_id, lang)
        )

    @app.route("/products/<int:product_id>/reviews")
    def reviews(product_id):
        if shop.product(product_id) is None:
            abort(404)
        etag = f"rv-{review_versions(shop.reviews_for(product_id))}"
        return with_validator(etag, "public, max-age=60", lambda: shop.render_reviews(product_id))

    @app.route("/users/<int:user_id>/dashboard")
    def dashboard(user_id):
        if shop.user_for(request.headers.get("Authorization")) != user_id:
            abort(403)
        user = shop.user(user_id)
        etag = f"u{user.version}-{review_versions(shop.reviews_by(user_id))}"
        return with_validator(etag, "private, no-cache", lambda: shop.render_dashboard(user_id))

    return app
