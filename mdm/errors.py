"""Errors raised by mdm.

Every error a user can cause derives from :class:`MdmError`, and its message says
what was wrong and how to fix it::

    MdmError
    ├── InputError            a source file cannot be read or is malformed
    │   ├── MappingError      a source mapping names columns the file lacks
    │   ├── DuplicateRecordError  a record_id repeats within one source
    │   └── NothingToMatchError   a record has no value blocking can use   (HTTP 422)
    ├── RulesError            a rules file is invalid (points at the line)
    ├── ConfigError           a setting (backend, Spark) is wrong or cannot be met
    ├── StoreError            the DuckDB store is missing or incompatible
    ├── VariantError          a name-variant request is invalid (empty, self)
    │   └── RejectedPairError     a proposal for a pair a steward rejected   (+ Conflict)
    ├── ReviewError           a review decision cannot be made
    │   ├── TaskNotFoundError     no such review task                        (+ NotFound)
    │   └── TaskClosedError       the task is already decided                (+ Conflict)
    ├── ModelError            the trained model cannot be used with these rules
    ├── NotFoundError         what was asked for does not exist (HTTP 404)
    └── ConflictError         the request contradicts the current state (HTTP 409)
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


class NothingToMatchError(InputError):
    """A record sent to be matched has no value any blocking rule can use: it could
    never be a candidate of anything (the message says what to give)."""


class RulesError(MdmError):
    """A rules file is invalid; the message names the file, line and what is allowed."""


class ConfigError(MdmError):
    """A setting (backend, Spark master, working folder) is wrong or cannot be met."""


class StoreError(MdmError):
    """The store file is missing, locked or was written by an incompatible version."""


class ModelError(MdmError):
    """A trained model does not fit the rules or data it is used with."""


class VariantError(MdmError):
    """A name-variant request cannot be carried out as given."""


class ReviewError(MdmError):
    """A review task cannot be decided as asked."""


class NotFoundError(MdmError):
    """What was asked for does not exist."""


class ConflictError(MdmError):
    """The request contradicts the current state (e.g. deciding a decided task)."""


class RejectedPairError(VariantError, ConflictError):
    """A proposal for a name pair that a steward rejected."""


class TaskNotFoundError(ReviewError, NotFoundError):
    """There is no review task with that id."""


class TaskClosedError(ReviewError, ConflictError):
    """The review task is not open any more."""
