"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives, as bytes on the wire."""
from __future__ import annotations

import socket
from email import message_from_bytes, policy


class CollectingHandler:
    """An aiosmtpd handler that keeps every message; can be slowed down or made to refuse."""

    def __init__(self) -> None:
        self.messages = []
        self.delay = 0.0
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse:
            return "451 4.3.0 Try again later"
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        message.raw = raw  # the bytes on the wire, for tests that must not trust a parser
        message.envelope_from = envelope.mail_from
        message.envelope_to = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.handler = CollectingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        return self.handler.messages

    def start(self):
        self.controller.start()
        ALLOWED_SMTP_PORTS.add(self.port)

    def stop(self):
        ALLOWED_SMTP_PORTS.discard(self.port)
        self.controller.stop()

    def config(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_USE_TLS": False, "MAIL_USE_SSL": False}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ALLOWED_SMTP_PORTS: set[int] = set()
