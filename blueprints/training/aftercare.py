"""After the course (#16): minimum class size, attendance and certificates, feedback, interest lists.

Each is a module of its own (minimum.py, certificates.py, feedback.py, interest.py) holding its workflows,
its public pages (on the training blueprint) and its admin screens (on the admin blueprint).
"""


def register() -> None:
    """Import the modules, so their routes, template globals and digest section are registered."""
    from blueprints.training import certificates, feedback, interest, minimum  # noqa: F401
