"""The compliance app's one domain exception."""


class ComplianceError(Exception):
    """A request the rules refuse, with a sentence to show the user."""
