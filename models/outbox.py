"""The mail outbox: every email is a row first, delivered later by the mailer."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import JSON, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from extensions import db
from models.base import UTCDateTime, utcnow
from models.transactions import begin_write, locked


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # Never handed to SMTP: an automatic mail over the per-recipient cap (last_error says why).
    SKIPPED = "skipped"
    STATUSES = (PENDING, SENDING, SENT, FAILED, SKIPPED)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Fixed when queued so that a retried delivery is recognisably the same message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    template: Mapped[str] = mapped_column(String(80), default="")
    to_addr: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(100), default="")
    reply_to: Mapped[str | None] = mapped_column(String(320))
    reply_to_name: Mapped[str] = mapped_column(String(100), default="")
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text, default="")
    # [{"filename": "invite.ics", "content_type": "text/calendar; method=REQUEST", "data": "<base64>"}]
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    # What the message is about, for the admin: e.g. "enquiry:12", "booking:7".
    related: Mapped[str] = mapped_column(String(60), default="", index=True)
    # Set only on automatic mail to an address nobody has verified (an acknowledgement, "booking
    # received"): the recipient as one mailbox (mail/compose.py recipient_key), for the per-recipient cap.
    recipient_key: Mapped[str | None] = mapped_column(String(320), index=True)
    # The thread a message continues (RFC 5322 3.6.4), so a reply threads in the client's mail program:
    # the Message-ID it answers, and every earlier one of the thread, space-separated.
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    thread_references: Mapped[str | None] = mapped_column(Text)
    # A list mail's one-click unsubscribe address (RFC 8058): sent as List-Unsubscribe with List-Unsubscribe-Post.
    list_unsubscribe: Mapped[str | None] = mapped_column(String(500))

    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    # Every delivery try, the successful one included (a message sent on its second try shows 2).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # --- delivery rules ----------------------------------------------------------------
    # Every method below takes the session it works in: delivery runs in a session of its
    # own (a worker, the background thread), never in a request's.

    BACKOFF_BASE = timedelta(minutes=1)
    BACKOFF_CAP = timedelta(hours=2)

    @classmethod
    def backoff(cls, attempts: int) -> timedelta:
        """Wait before the next try after `attempts` failed ones: 1, 2, 4 … minutes, capped."""
        return min(cls.BACKOFF_CAP, cls.BACKOFF_BASE * (2 ** max(0, attempts - 1)))

    @classmethod
    def release_stale(cls, session: Session, older_than: timedelta, max_attempts: int, now: datetime | None = None) -> int:
        """Return `sending` claims older than `older_than` to pending: their worker died mid-delivery.

        The interrupted delivery counts as an attempt, so a message that kills its worker every
        time still ends as failed. The caller commits.
        """
        now = now or utcnow()
        # Two workers must not both release (and then both claim) the same row.
        query = select(cls).where(cls.status == cls.SENDING, cls.claimed_at < now - older_than)
        stale = session.scalars(_skip_locked(query)).all()
        for message in stale:
            message._record_failure("delivery interrupted: the worker stopped before it finished", max_attempts, now)
            if message.status == cls.PENDING:
                message.next_attempt_at = now  # due again at once: nothing was wrong with it
        return len(stale)

    @classmethod
    def claim_batch(
        cls, session: Session, worker: str, *, limit: int = 20, max_attempts: int = 8,
        stale_after: timedelta = timedelta(minutes=10), now: datetime | None = None,
    ) -> list[OutboxMessage]:
        """Claim up to `limit` due messages for `worker` and commit, before anyone talks SMTP.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint rows.
        SQLite: the whole claim is one BEGIN IMMEDIATE transaction (begin_write), so claimers take turns.
        """
        now = now or utcnow()
        begin_write(session)
        cls.release_stale(session, stale_after, max_attempts, now)
        query = (
            select(cls)
            .where(cls.status == cls.PENDING, cls.next_attempt_at <= now)
            .order_by(cls.next_attempt_at, cls.id)
            .limit(limit)
        )
        claimed = session.scalars(_skip_locked(query)).all()
        for message in claimed:
            message.status = cls.SENDING
            message.claimed_by = worker[:100]
            message.claimed_at = now
        session.commit()
        return claimed

    @classmethod
    def _owned(cls, session: Session, message_id: int, worker: str) -> OutboxMessage | None:
        """The row, if `worker` still holds its claim (a stale claim may have been taken over)."""
        begin_write(session)
        query = select(cls).where(cls.id == message_id, cls.status == cls.SENDING, cls.claimed_by == worker[:100])
        return session.scalar(locked(query))

    @classmethod
    def mark_sent(cls, session: Session, message_id: int, worker: str, now: datetime | None = None) -> bool:
        """Record that the relay accepted the message. False if another worker holds it now.

        Also when this worker's claim has lapsed meanwhile (its bookkeeping was retried after a
        database outage longer than the claim timeout): a message back in `pending` or `failed` was
        still delivered, and recording that keeps the next claim from sending it again.
        """
        begin_write(session)
        message = session.scalar(locked(select(cls).where(cls.id == message_id)))
        ours = message is not None and (
            message.status in (cls.PENDING, cls.FAILED)
            or (message.status == cls.SENDING and message.claimed_by == worker[:100])
        )
        if ours:
            message.status = cls.SENT
            message.attempts = (message.attempts or 0) + 1
            message.sent_at = now or utcnow()
            message.claimed_by = None
            message.claimed_at = None
            message.last_error = None
        session.commit()
        return ours

    @classmethod
    def mark_failed(
        cls, session: Session, message_id: int, worker: str, error: str, *,
        max_attempts: int, permanent: bool = False, now: datetime | None = None,
    ) -> OutboxMessage | None:
        message = cls._owned(session, message_id, worker)
        if message is not None:
            message._record_failure(error, 1 if permanent else max_attempts, now or utcnow())
        session.commit()
        return message

    @classmethod
    def release(cls, session: Session, message_id: int, worker: str) -> None:
        """Give back a claimed message untouched (a worker stopping before it got to it)."""
        message = cls._owned(session, message_id, worker)
        if message is not None:
            message.status = cls.PENDING
            message.claimed_by = None
            message.claimed_at = None
        session.commit()

    @classmethod
    def release_all(cls, session: Session, worker: str) -> int:
        """Give back every claim `worker` still holds (a worker exiting, or a pass that could not finish)."""
        begin_write(session)
        held = session.scalars(locked(select(cls).where(cls.status == cls.SENDING, cls.claimed_by == worker[:100]))).all()
        for message in held:
            message.status = cls.PENDING
            message.claimed_by = None
            message.claimed_at = None
        session.commit()
        return len(held)

    def _record_failure(self, error: str, max_attempts: int, now: datetime) -> None:
        self.attempts = (self.attempts or 0) + 1
        self.last_error = (error or "unknown error")[:2000]
        self.claimed_by = None
        self.claimed_at = None
        if self.attempts >= max_attempts:
            self.status = self.FAILED
        else:
            self.status = self.PENDING
            self.next_attempt_at = now + self.backoff(self.attempts)

    @property
    def can_retry(self) -> bool:
        return self.status == self.FAILED

    def retry(self, now: datetime | None = None) -> bool:
        """Admin: send a failed message again, with a fresh set of attempts. False if it is not failed."""
        if not self.can_retry:
            return False
        self.status = self.PENDING
        self.attempts = 0
        self.next_attempt_at = now or utcnow()
        return True

    @property
    def can_send_now(self) -> bool:
        """Waiting for its first try or a retry: the admin may bring that try forward."""
        return self.status == self.PENDING

    def send_now(self, now: datetime | None = None) -> bool:
        """Admin: make a waiting message due at once (its attempts so far still count). False if it is not waiting."""
        if not self.can_send_now:
            return False
        self.next_attempt_at = now or utcnow()
        return True

    @classmethod
    def automatic_since(cls, session: Session, recipient_key: str, since: datetime) -> int:
        """How many automatic messages to this recipient were queued (not skipped) since `since`."""
        return session.scalar(
            select(func.count()).select_from(cls)
            .where(cls.recipient_key == recipient_key, cls.status != cls.SKIPPED, cls.created_at >= since)
        ) or 0

    @classmethod
    def next_due(cls, session: Session) -> datetime | None:
        """When the earliest pending message becomes due (the background thread sleeps until then)."""
        return session.scalar(select(func.min(cls.next_attempt_at)).where(cls.status == cls.PENDING))

    @classmethod
    def counts(cls, session: Session) -> dict[str, int]:
        rows = session.execute(select(cls.status, func.count()).group_by(cls.status)).all()
        return {status: count for status, count in rows}


def _skip_locked(query):
    """`locked`, but rows another worker holds are skipped rather than waited for (PostgreSQL).

    SQLite has no row locks; SQLAlchemy leaves the clause out and BEGIN IMMEDIATE serialises instead.
    """
    return locked(query).with_for_update(skip_locked=True)


# The server's own words in a recorded error: "(550, b'5.1.1 Mailbox does not exist')" or "451 4.3.0 …".
_SMTP_REPLY = re.compile(r"""\((\d{3}),\s*b?(['"])(.*?)\2""", re.S)
_BARE_REPLY = re.compile(r"(?:^|:\s)([245]\d\d)[ -](.+)$", re.S)

# (pattern in the recorded error, what it means), first match wins; the SMTP replies come after these.
_KNOWN = [
    (re.compile(r"SMTPAuthenticationError", re.I),
     "The mail server refused the user name or password (check MAIL_USERNAME and MAIL_PASSWORD). It is tried again."),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError|SSLCert|\bSSL\b|\bTLS\b|STARTTLS", re.I),
     "The secure (TLS) connection to the mail server failed: its certificate was not trusted, or it does not offer "
     "TLS as MAIL_USE_TLS / MAIL_USE_SSL expect. It is tried again."),
    (re.compile(r"ConnectionRefused|Connection refused", re.I),
     "The mail server refused the connection: nothing answered at MAIL_SERVER and MAIL_PORT (is it down?). "
     "It is tried again."),
    (re.compile(r"Timeout|timed out", re.I),
     "The mail server did not answer in time. It is tried again."),
    (re.compile(r"gaierror|Name or service not known|nodename nor servname|Temporary failure in name resolution", re.I),
     "The mail server's name could not be found (check MAIL_SERVER). It is tried again."),
    (re.compile(r"SMTPServerDisconnected|Connection unexpectedly closed|ConnectionReset|Broken pipe", re.I),
     "The mail server closed the connection before the message was accepted. It is tried again."),
    (re.compile(r"^delivery interrupted", re.I),
     "The delivery was interrupted: the sending process stopped before it finished. It is tried again."),
]


def failure_reason(error: str | None) -> str:
    """The recorded delivery error in plain words, for the outbox and the enquiry thread (the raw text is kept)."""
    if not error:
        return ""
    for pattern, words in _KNOWN:
        if pattern.search(error):
            return words
    reply = _SMTP_REPLY.search(error) or _BARE_REPLY.search(error.strip())
    if reply is not None:
        code = int(reply.group(1))
        text = " ".join((reply.group(3) if reply.re is _SMTP_REPLY else reply.group(2)).split())
        if 500 <= code < 600:
            return f"The mail server refused the message ({code}): {text}. It is not tried again."
        if 400 <= code < 500:
            return f"The mail server asked to try again later ({code}): {text}."
    if "NonASCII" in error or "SMTPUTF8" in error:
        return "The address has letters outside ASCII and the mail server cannot take them."
    return error.splitlines()[0][:300]
