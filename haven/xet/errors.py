"""The one exception the Xet parsers raise, so callers can map any malformed input to HTTP 400."""

from __future__ import annotations


class XetFormatError(ValueError):
    """Bytes or a hash string do not follow the Xet wire format, or do not match what they claim to be."""
