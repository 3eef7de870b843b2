"""Email addresses as the mailer can send them, international ones included (RFC 6530-6532).

The one rule for what an address may be. blueprints/forms.py's EmailAddress checks a visitor's
address with it (so a form accepts only what can be sent), and mail/message.py writes every
header and envelope address through it.

- A non-ASCII local part (jörg@…) exists only with SMTPUTF8 (RFC 6531): the message then carries
  the address in UTF-8, its domain as the person wrote it.
- An ASCII local part never needs SMTPUTF8: an IDN domain goes out as its A-label (xn--…), which
  every relay and every mailbox on the way understands (RFC 6531 §3.2 asks clients to prefer that).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What a quoted or commented address would need; never part of an address the site sends to.
_SYNTAX = set(' ,;<>"()[]\\')


class NeedsSmtpUtf8(ValueError):
    """The relay does not offer SMTPUTF8, and this address cannot be written without it."""

    def __init__(self, address: str) -> None:
        super().__init__(
            f"Not sent: the mail server does not accept international addresses (SMTPUTF8), so it cannot "
            f"deliver to {address}. Write to them from a mail program that can, or use a relay that offers SMTPUTF8."
        )
        self.address = address


@dataclass(frozen=True)
class MailAddress:
    local: str  # NFC
    domain: str  # as written (U-labels allowed)
    ascii_domain: str  # A-labels, lower case where converted

    @property
    def needs_smtputf8(self) -> bool:
        return not self.local.isascii()

    def for_relay(self, smtputf8: bool) -> str:
        """The address to write in the headers and the envelope (NeedsSmtpUtf8 when it cannot be)."""
        if not self.needs_smtputf8:
            return f"{self.local}@{self.ascii_domain}"
        if not smtputf8:
            raise NeedsSmtpUtf8(str(self))
        return str(self)

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def ascii_domain(domain: str) -> str:
    """The A-label form of a domain (IDNA 2008 with UTS #46, as email-validator does: straße stays ß); ValueError if none."""
    domain = domain.strip().rstrip(".")
    if domain.isascii():
        return domain.lower()
    try:
        # A throwaway local part: only the domain is being converted.
        return validate_email(f"x@{domain}", check_deliverability=False, globally_deliverable=False).ascii_domain
    except EmailNotValidError as error:
        raise ValueError(f"not a domain: {domain!r} ({error})") from None


def parse_address(text: str | None) -> MailAddress:
    """One plain addr-spec the mailer can write into a header unchanged, or ValueError saying why not.

    No quoting, comments, control characters or encoded-word openers (`=?`: Python's own address
    parser decodes one inside an address); the local part in NFC so that one spelling is one mailbox.
    """
    text = (text or "").strip()
    if not text or _CONTROL.search(text) or any(c in _SYNTAX for c in text) or "=?" in text:
        raise ValueError(f"not a single plain email address: {text!r}")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise ValueError(f"not an email address: {text!r}")
    local = unicodedata.normalize("NFC", local)
    if not local.isprintable() or not domain.isprintable() or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(f"not an email address: {text!r}")
    return MailAddress(local=local, domain=unicodedata.normalize("NFC", domain), ascii_domain=ascii_domain(domain))
