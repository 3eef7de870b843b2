"""Every model, re-exported so Alembic and the app see all tables."""
from models import search  # noqa: F401  (its listeners add the search index to create_all)
from models.audit import AuditLog
from models.base import UTCDateTime, utcnow
from models.content import Comment, Post, Service, Tag, post_tags
from models.content_version import ContentVersion
from models.digest import DigestRun
from models.enquiries import Enquiry, EnquiryMessage
from models.form_stamps import UsedFormStamp
from models.imports import ImportedItem
from models.invoices import BusinessDetails, Invoice, InvoiceCounter, StripeEvent
from models.media import MediaFile
from models.outbox import OutboxMessage
from models.proposals import PrivateLink, SessionProposal
from models.redirects import Redirect
from models.session_days import SessionDay
from models.stats import StatsConversion, StatsCounter, StatsHit, StatsSalt
from models.training import Booking, Course, TrainingSession
from models.users import AdminUser, LoginFailure

__all__ = [
    "AdminUser", "AuditLog", "Booking", "BusinessDetails", "Comment", "ContentVersion", "Course", "DigestRun", "Enquiry", "EnquiryMessage",
    "ImportedItem", "Invoice", "InvoiceCounter", "LoginFailure", "MediaFile", "OutboxMessage", "Post", "PrivateLink", "SessionDay", "SessionProposal", "Redirect", "Service",
    "StatsConversion", "StatsCounter", "StatsHit", "StatsSalt", "StripeEvent", "Tag", "TrainingSession", "UsedFormStamp",
    "UTCDateTime", "post_tags", "utcnow",
]
