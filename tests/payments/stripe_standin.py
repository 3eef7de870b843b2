"""A stand-in for the part of Stripe's HTTP API the site uses, on loopback, and webhook events signed as Stripe signs them.

The official `stripe` library talks to it (STRIPE_API_BASE): it sends the same form-encoded requests it
would send to api.stripe.com, and gets Stripe-shaped JSON back. Events are signed with the library's own
scheme (stripe.WebhookSignature: HMAC-SHA256 of "timestamp.payload" under the webhook secret).
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from stripe import WebhookSignature

SECRET_KEY = "sk_test_portico_standin"
WEBHOOK_SECRET = "whsec_portico_standin"


def unflatten(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (line_items[0][price_data][unit_amount]=…) back into nested values."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node):
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [lists(node[k]) for k in sorted(node, key=int)]
            return {k: lists(v) for k, v in node.items()}
        return node

    return lists(root)


@dataclass
class Request:
    method: str
    path: str
    params: dict
    headers: dict


@dataclass
class StripeStandIn:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    sessions: dict[str, dict] = field(default_factory=dict)
    refunds: list[dict] = field(default_factory=list)
    fail_next: int = 0  # answer the next N requests with a 500

    def checkout_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/v1/checkout/sessions"]

    # --- what the handler does -------------------------------------------------------------
    def handle(self, request: Request) -> tuple[int, dict]:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {SECRET_KEY}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        if self.fail_next:
            self.fail_next -= 1
            return 500, {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}
        if request.method == "POST" and request.path == "/v1/checkout/sessions":
            return 200, self._create(request.params)
        match = re.fullmatch(r"/v1/checkout/sessions/(cs_[\w]+)/expire", request.path)
        if request.method == "POST" and match and match.group(1) in self.sessions:
            session = self.sessions[match.group(1)]
            session["status"] = "expired"
            return 200, session
        if request.method == "POST" and request.path == "/v1/refunds":
            refund = {"id": f"re_{secrets.token_hex(8)}", "object": "refund", "status": "succeeded",
                      "payment_intent": request.params.get("payment_intent"),
                      "idempotency_key": request.headers.get("idempotency-key")}
            self.refunds.append(refund)
            return 200, refund
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {request.path}"}}

    def _create(self, params: dict) -> dict:
        session_id = f"cs_test_{secrets.token_hex(12)}"
        amount = sum(int(item["price_data"]["unit_amount"]) * int(item["quantity"]) for item in params["line_items"])
        session = {
            "id": session_id, "object": "checkout.session", "mode": params["mode"], "status": "open",
            "payment_status": "unpaid", "url": f"{self.url}/c/pay/{session_id}", "amount_total": amount,
            "currency": params["line_items"][0]["price_data"]["currency"], "customer_email": params.get("customer_email"),
            "client_reference_id": params.get("client_reference_id"), "metadata": params.get("metadata", {}),
            "expires_at": int(params["expires_at"]), "success_url": params["success_url"],
            "cancel_url": params["cancel_url"], "payment_intent": None, "line_items_sent": params["line_items"],
        }
        self.sessions[session_id] = session
        return session

    # --- events, as Stripe would send them ----------------------------------------------------
    def event(self, event_type: str, session_id: str, **changes) -> dict:
        obj = {k: v for k, v in self.sessions[session_id].items() if k != "line_items_sent"}
        if event_type == "checkout.session.completed":
            obj.update(status="complete", payment_status="paid", payment_intent=f"pi_{secrets.token_hex(10)}")
        elif event_type == "checkout.session.expired":
            obj.update(status="expired")
        obj.update(changes)
        self.sessions[session_id].update(obj)
        return {"id": f"evt_{secrets.token_hex(12)}", "object": "event", "type": event_type, "api_version": "2025-01-01",
                "created": int(time.time()), "livemode": False, "data": {"object": obj}}


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, made as Stripe makes it (the library's own signing function)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},{WebhookSignature.EXPECTED_SCHEME}={signature}"


def serve() -> tuple[StripeStandIn, ThreadingHTTPServer]:
    standin = StripeStandIn()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = unflatten(parse_qsl(body or query, keep_blank_values=True))
            status, payload = standin.handle(Request(method, path, params, {k.lower(): v for k, v in self.headers.items()}))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            self._answer("POST")

        def do_GET(self):  # noqa: N802
            self._answer("GET")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin, server
