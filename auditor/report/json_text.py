"""JSON text for the report's endpoint lines, written as json.dumps(ensure_ascii=False,
separators=(", ", ": ")) writes it: the C encoder built once, and the scalars and strings a
line is made of. Every outside string is cleaned (escape.clean) before it is encoded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from auditor.report.escape import clean, clean_each

# What json_format's whole-line encoder writes: ", " and ": " between items, text as it is.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))
STRING: Callable[[str], str] = json.encoder.encode_basestring


def _one_line_by_c(encode: Callable[[object, int], list[str]]) -> Callable[[object], str]:
    def one_line(value: object) -> str:
        return "".join(encode(value, 0))

    return one_line


# The C encoder JSONEncoder.encode builds anew on each call, built once: encode's own set-up
# cost more than encoding a place's few keys (a test holds the two equal). Without the C
# accelerator (another interpreter), JSONEncoder.encode itself.
_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
ONE_LINE: Callable[[object], str] = (
    _ENCODER.encode
    if _MAKE_ENCODER is None
    else _one_line_by_c(
        _MAKE_ENCODER(None, _ENCODER.default, STRING, None, ": ", ", ", False, False, True)
    )
)

# Each cache of encoded parts starts again past this many entries: a million endpoints each
# with a reason of its own (one naming its address) cost encodings, never unbounded memory.
LIMIT = 20_000


def remember(cache: dict[Any, Any], key: object, value: object) -> None:
    if len(cache) >= LIMIT:
        cache.clear()
    cache[key] = value


def scalar_text(value: object) -> str:
    """None, a boolean or a number as the encoder writes it: an int or a finite float by its
    repr, as the encoder does; NaN, infinities and anything else by the encoder itself."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return ONE_LINE(value)


def string_column(texts: list[str]) -> tuple[str, list[str]]:
    """Each outside text cleaned and encoded, as STRING(clean(text)) writes it, in two parts:
    the quote that goes on each side of every item, and the items. When the whole column is
    printable ASCII without a quote or a backslash (every address of a report), clean() keeps
    each text and STRING only adds the quotes: the texts are given as they are and the quote is
    '"' (~100,000 STRING calls at 100k servers, twice: the endpoints and the capture's section).
    Otherwise each text is cleaned and encoded, and the quote is ""."""
    joined = "".join(texts)
    if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
        return '"', texts
    return "", list(map(STRING, clean_each(texts)))


def optional_text(text: str | None) -> str:
    """An outside string (or None), cleaned and encoded."""
    return "null" if text is None else STRING(clean(text))


def raw_text(text: str | None) -> str:
    """Text the auditor made itself (a time, an enum's value): encoded, not cleaned."""
    return "null" if text is None else STRING(text)

