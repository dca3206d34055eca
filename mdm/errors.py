"""Errors raised by mdm.

Every error a user can cause derives from :class:`MdmError`, and its message says
what was wrong and how to fix it::

    MdmError
    ├── InputError            a source file cannot be read or is malformed
    │   ├── MappingError      a source mapping names columns the file lacks
    │   └── DuplicateRecordError  a record_id repeats within one source
    ├── RulesError            a rules file is invalid (points at the line)
    ├── StoreError            the DuckDB store is missing or incompatible
    ├── VariantError          a name-variant request is invalid (empty, self, rejected)
    ├── ReviewError           a review decision cannot be made (no such task, not open)
    └── ModelError            the trained model cannot be used with these rules
"""

from __future__ import annotations


class MdmError(Exception):
    """Root of every error mdm raises on purpose."""


class InputError(MdmError):
    """A source file is missing, empty, undecodable or malformed."""


class MappingError(InputError):
    """A source mapping refers to columns that the source does not have."""


class DuplicateRecordError(InputError):
    """The same record_id appears more than once within one source."""


class RulesError(MdmError):
    """A rules file is invalid; the message names the file, line and what is allowed."""


class StoreError(MdmError):
    """The store file is missing, locked or was written by an incompatible version."""


class ModelError(MdmError):
    """A trained model does not fit the rules or data it is used with."""


class VariantError(MdmError):
    """A name-variant request cannot be carried out as given."""


class ReviewError(MdmError):
    """A review task cannot be decided as asked."""
