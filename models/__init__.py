"""Every model, re-exported so Alembic and the app see all tables."""
from models import search  # noqa: F401  (its listeners add the search index to create_all)
from models.attendance import Attendance
from models.audit import AuditLog
from models.base import UTCDateTime, utcnow
from models.certificates import Certificate
from models.content import Comment, Post, Service, Tag, post_tags
from models.content_version import ContentVersion
from models.digest import DigestRun
from models.enquiries import Enquiry, EnquiryMessage
from models.feedback import Feedback
from models.form_stamps import UsedFormStamp
from models.imports import ImportedItem
from models.interest import InterestAnnouncement, InterestEntry
from models.invoices import BusinessDetails, Invoice, InvoiceCounter, StripeEvent
from models.media import MediaFile
from models.minimum import SessionMinimum
from models.outbox import OutboxMessage
from models.redirects import Redirect
from models.stats import StatsConversion, StatsCounter, StatsHit, StatsSalt
from models.training import Booking, Course, TrainingSession
from models.users import AdminUser, LoginFailure

__all__ = [
    "Attendance", "Certificate", "Feedback", "InterestAnnouncement", "InterestEntry", "SessionMinimum",
    "AdminUser", "AuditLog", "Booking", "BusinessDetails", "Comment", "ContentVersion", "Course", "DigestRun", "Enquiry", "EnquiryMessage",
    "ImportedItem", "Invoice", "InvoiceCounter", "LoginFailure", "MediaFile", "OutboxMessage", "Post", "Redirect", "Service",
    "StatsConversion", "StatsCounter", "StatsHit", "StatsSalt", "StripeEvent", "Tag", "TrainingSession", "UsedFormStamp",
    "UTCDateTime", "post_tags", "utcnow",
]
