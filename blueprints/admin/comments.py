"""Comment moderation."""
