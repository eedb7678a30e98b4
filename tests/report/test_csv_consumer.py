"""The CSV report read by its consumer: pandas gives integer columns and a capture column."""

from __future__ import annotations

import io

import pandas as pd

from auditor.report import get_format
from tests.report.factory import FIXED, MONDAY, TUESDAY, batch_result, sample_result


def frame(result: object) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(get_format("csv", FIXED).render(result)))  # type: ignore[arg-type]


def test_integer_columns_read_as_integers_also_with_an_unknown_asn() -> None:
    table = frame(sample_result())
    assert table["asn"].isna().sum() == 0
    for column in ("asn", "packets", "bytes", "flows", "first_frame"):
        assert pd.api.types.is_integer_dtype(table[column]), (column, table[column].dtype)
    assert set(table.loc[table["ip"] == "10.1.2.3", "asn"]) == {0}  # no ASN known: AS 0


def test_each_capture_has_its_rows_with_its_own_counts_and_frames() -> None:
    table = frame(batch_result())
    zoom = table[table["ip"] == "198.51.100.7"].set_index("capture")
    assert zoom.loc[MONDAY, "first_frame"] == 12
    assert zoom.loc[TUESDAY, "first_frame"] == 3
    assert zoom["packets"].sum() == 100  # the endpoint's total, split by capture
    per_capture = table.groupby("capture")["verdict"].apply(set).to_dict()
    assert per_capture == {MONDAY: {"violation", "allowed"}, TUESDAY: {"unknown", "allowed"}}
