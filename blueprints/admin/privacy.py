"""Privacy requests: find, export, erase a person's data."""
