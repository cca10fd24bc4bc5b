"""Exception types of gammapipe.

Every error names what is wrong and where (file, HDU, column, argument).
"""

from __future__ import annotations


class GammapipeError(Exception):
    """Base class of all gammapipe errors."""


class FITSFormatError(GammapipeError, ValueError):
    """A FITS file, HDU, column or keyword does not follow the expected format."""


class MissingFileError(GammapipeError, FileNotFoundError):
    """A file referenced by the user or by an index file does not exist."""


class MissingHDUError(GammapipeError, KeyError):
    """A requested HDU is not present in a FITS file or index."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class UnitError(GammapipeError, ValueError):
    """A quantity has a missing or incompatible unit."""


class GeometryError(GammapipeError, ValueError):
    """Incompatible or invalid map geometries or axes."""


class EmptySelectionError(GammapipeError, ValueError):
    """A selection matched nothing."""
