"""The one exception type s2k raises for bad user input.

The CLI turns an :class:`S2KError` into a one-line message on stderr and exit status 2; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class S2KError(ValueError):
    """Invalid input from the user: a missing or unreadable file, a bad kernel, a bad scale, ..."""
