"""Fast JSON responses for the hot paths (match, upsert).

FastAPI validates a returned model against ``response_model`` and then serialises it:
two passes over every candidate and comparison. The hot endpoints build plain dicts in
the declared shape (tests check them against the OpenAPI schema) and send them with
orjson, which also takes numpy numbers and datetimes as they come.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi.responses import JSONResponse, Response

if TYPE_CHECKING:
    import pandas as pd


def _default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


class FastJSONResponse(JSONResponse):
    """``application/json`` rendered by orjson (a JSONResponse, so that the OpenAPI
    schema shows the endpoint's response model, not a bare string)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(
            content, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC
        )


def table_file(frame: pd.DataFrame, format: str, name: str) -> Response:
    """A table as a CSV (safe to open in a spreadsheet) or Parquet download named
    ``name.<format>``."""
    import io

    buffer = io.BytesIO()
    if format == "csv":
        from mdm.exports import spreadsheet_safe

        spreadsheet_safe(frame).to_csv(buffer, index=False)
        media = "text/csv"
    else:
        frame.to_parquet(buffer, index=False)
        media = "application/vnd.apache.parquet"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{format}"'}
    return Response(buffer.getvalue(), media_type=media, headers=headers)
