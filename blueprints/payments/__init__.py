"""Card payment by Stripe Checkout (off unless STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are set).

No card data touches the site: the client pays on Stripe's page; the booking is confirmed only from
Stripe's signed webhook (routes.py), each event once (operations.py)."""
from flask import Blueprint

bp = Blueprint("payments", __name__)

from blueprints.payments import routes  # noqa: E402,F401  (registers the routes)
