"""Content: posts and services."""
