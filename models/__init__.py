"""Every model, re-exported so Alembic and the app see all tables."""
from models import search  # noqa: F401  (its listeners add the search index to create_all)
from models.account import AdminSession, AdminToken, RecoveryCode
from models.attendance import Attendance
from models.audit import AuditLog
from models.base import UTCDateTime, utcnow
from models.case_studies import CaseStudy, case_study_services
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
from models.proposals import PrivateLink, SessionProposal
from models.redirects import Redirect
from models.session_days import SessionDay
from models.site_settings import SiteSettings
from models.stats import StatsConversion, StatsCounter, StatsHit, StatsSalt
from models.training import Booking, Course, TrainingSession
from models.users import AdminUser, LoginFailure

__all__ = [
    "Attendance", "Certificate", "Feedback", "InterestAnnouncement", "InterestEntry", "SessionMinimum",
    "AdminSession", "AdminToken", "AdminUser", "AuditLog", "Booking", "BusinessDetails", "CaseStudy", "Comment", "ContentVersion", "Course", "DigestRun", "Enquiry", "EnquiryMessage",
    "ImportedItem", "Invoice", "InvoiceCounter", "LoginFailure", "MediaFile", "OutboxMessage", "Post", "PrivateLink", "RecoveryCode", "Redirect", "Service", "SessionDay", "SessionProposal", "SiteSettings",
    "StatsConversion", "StatsCounter", "StatsHit", "StatsSalt", "StripeEvent", "Tag", "TrainingSession", "UsedFormStamp",
    "UTCDateTime", "case_study_services", "post_tags", "utcnow",
]
