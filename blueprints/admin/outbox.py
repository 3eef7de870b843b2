"""The mail outbox: every message, retry a failed one."""
