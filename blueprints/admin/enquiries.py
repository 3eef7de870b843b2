"""The enquiries inbox."""
