"""The collector layer's exception: every message says what went wrong and what to do about it."""


class CollectorError(Exception):
    """A problem with a device, a recording or an input file; its message is one line for a user."""
