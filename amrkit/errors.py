"""The one exception type amrkit's core raises for bad input or impossible requests."""


class AmrkitError(Exception):
    """A user-facing error: one line naming the value, what was allowed and the fix.

    The CLI prints it as ``error: <message>`` and exits with status 1, without a traceback.
    """
