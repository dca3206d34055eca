"""National identifiers: a social security, national insurance, tax or personal number.

A standardised identifier is its letters and digits in upper case, nothing else:
``"123-45-6789"``, ``"123 45 6789"`` and ``123456789`` are one value, and so are
``"sj 69 89 09 d"`` and ``"SJ698909D"``. The number's own format (which country,
which check digit) is not checked: a source may hold several countries' numbers, and
a mistyped number is still evidence, weighed by the match model. What no person holds
is missing: text that is no identifier ("n/a", "unknown"), fewer than
:data:`MIN_CHARACTERS` characters, one character repeated ("000000000") or a counting
run ("123456789"), the fillers forms and systems put in when the number is unknown;
and so is a number whose digits (five or more) are such a filler between letters
("AA000000A", "QQ123456C": the National Insurance number printed on forms as an
example).
"""

from __future__ import annotations

import pandas as pd

from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import take, to_text

#: Fewer letters and digits than this are no national identifier (the shortest in
#: common use, such as Iceland's kennitala or a US SSN, have 9 or more; short
#: values are row numbers and fillers).
MIN_CHARACTERS = 5

_RUNS = "0123456789012345678901234567890123456789"
_RUNS_DOWN = _RUNS[::-1]


def clean_national_id(value: object) -> str | None:
    """The identifier's letters and digits, upper case; None when it is missing or a
    filler (see the module's description)."""
    text = to_text(value)
    if text is None:
        return None
    compact = "".join(c for c in text.upper() if c.isascii() and c.isalnum())
    if len(compact) < MIN_CHARACTERS or len(set(compact)) == 1:
        return None
    digits = "".join(c for c in compact if c.isdigit())
    if len(digits) >= MIN_CHARACTERS and (
        len(set(digits)) == 1 or digits in _RUNS or digits in _RUNS_DOWN
    ):
        return None
    return compact


def standardise_national_id_column(series: pd.Series) -> pd.Series:
    """Apply :func:`clean_national_id` to a column, once per distinct value."""
    unique = vec.unique_texts(series)
    return take(unique.codes, [clean_national_id(t) for t in unique.texts()], series.index)
