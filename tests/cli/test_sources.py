"""Source mappings on real files: none needed for schema-shaped or spreadsheet headers,
`mdm sources infer` proposes one, the demo keeps its own, and every column is reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mdm.cli import DEFAULT_RULES, app
from mdm.rules.sources import load_source_mapping

REPO = Path(__file__).resolve().parents[2]
SAMPLE_SOURCES = REPO / "mdm" / "data" / "sample" / "sources"
runner = CliRunner()

#: A sales team's spreadsheet: the billing extract under the headers people type.
SPREADSHEET = {
    "account_id": "Customer ID", "full_name": "Customer Name", "email_address": "E-mail",
    "phone": "Tel", "street": "Address 1", "city": "Town", "post_code": "Post code",
    "birth_date": "Birth Date",
}  # fmt: skip


def _run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def _report(db: Path) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        return json.loads(con.execute("SELECT report FROM runs").fetchall()[-1][0])["sources"]


def _spreadsheet(sample_dir: Path, path: Path) -> Path:
    frame = pd.read_parquet(sample_dir / "billing.parquet").rename(columns=SPREADSHEET)
    frame["Notes"] = "called back"
    frame["Mobile"] = "07700 900123"  # a second phone column: Tel is preferred
    frame.drop(columns=["true_person_id"]).to_excel(path, index=False, engine="openpyxl")
    return path


def _schema_shaped_crm(sample_dir: Path, path: Path) -> Path:
    """The generated CRM file with its header renamed to the customer schema."""
    mapping = load_source_mapping(SAMPLE_SOURCES / "crm.yaml").columns
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str, keep_default_na=False)
    crm.rename(columns={column: name for name, column in mapping.items()}).to_csv(path, index=False)
    return path


def test_a_schema_shaped_crm_file_needs_no_mapping_from_any_folder(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _schema_shaped_crm(sample_dir, elsewhere / "customers.csv")
    result = _run("reconcile", "crm=customers.csv", "--db", "crm.duckdb")
    assert result.exit_code == 0, result.output
    assert "not found" not in result.output
    [crm] = _report(elsewhere / "crm.duckdb")
    assert {m["basis"] for m in crm["mapped"]} == {"schema name"}
    assert [m["attribute"] for m in crm["mapped"]][:3] == ["record_id", "first_name", "middle_name"]
    assert crm["unused"] == ["title", "true_person_id"]
    # Reported in the log lines and in the summary table, not only in the store.
    assert "[read] crm: by schema name: record_id <- 'record_id'" in result.output
    assert "not used (kept as extra attributes): 'title', 'true_person_id'" in result.output
    assert "columns of crm: by schema name: record_id <- 'record_id'" in result.stdout


def test_a_messy_spreadsheet_is_reconciled_without_a_mapping(
    sample_dir: Path, tmp_path: Path
) -> None:
    sheet = _spreadsheet(sample_dir, tmp_path / "sales.xlsx")
    db = tmp_path / "sales.duckdb"
    crm = str(sample_dir / "crm.csv")
    result = _run("reconcile", crm, str(sheet), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    [_, sales] = json.loads(result.stdout)["sources"]
    mapped = {m["attribute"]: (m["column"], m["basis"]) for m in sales["mapped"]}
    assert mapped == {
        "record_id": ("Customer ID", "known synonym"),
        "full_name": ("Customer Name", "known synonym"),
        "date_of_birth": ("Birth Date", "known synonym"),
        "email": ("E-mail", "schema name"),
        "phone": ("Tel", "known synonym"),
        "address_line": ("Address 1", "known synonym"),
        "city": ("Town", "known synonym"),
        "postcode": ("Post code", "schema name"),
    }
    assert sales["unused"] == ["Notes", "Mobile"]
    with duckdb.connect(str(db), read_only=True) as con:
        extra, phones = con.execute(
            "SELECT any_value(extra), count(phone) FROM records WHERE source = 'sales'"
        ).fetchall()[0]
        shared = con.execute(
            "SELECT count(*) FROM (SELECT golden_id FROM xref GROUP BY golden_id "
            "HAVING count(DISTINCT source) = 2)"
        ).fetchall()[0][0]
    assert json.loads(extra) == {"Notes": "called back", "Mobile": "07700 900123"}  # kept
    assert phones > 0 and shared > 50  # the spreadsheet's customers are found in the CRM


def test_infer_proposes_a_mapping_that_reads_back_and_reconciles(
    sample_dir: Path, tmp_path: Path
) -> None:
    sheet = _spreadsheet(sample_dir, tmp_path / "export 2026-11.xlsx")
    rules = tmp_path / "myrules"
    (rules / "sources").mkdir(parents=True)
    shutil.copy(DEFAULT_RULES, rules / "customer.match.yaml")
    proposed = rules / "sources" / "sales.yaml"
    result = _run("sources", "infer", str(sheet), "--source", "sales", "--write", str(proposed))
    assert result.exit_code == 0, result.output
    for row in ("record_id", "Customer ID", "known synonym", "email", "E-mail", "schema name"):
        assert row in result.stdout
    assert "not used (kept as extra attributes): 'Notes', 'Mobile' (also phone; 'Tel' is used)" in (
        result.stdout
    )
    mapping = load_source_mapping(proposed)
    assert mapping.source == "sales" and mapping.columns["full_name"] == "Customer Name"
    again = _run("sources", "infer", str(sheet), "--write", str(proposed))
    assert again.exit_code == 2 and "exists" in again.output and "--force" in again.output
    db = tmp_path / "s.duckdb"
    args = ("reconcile", str(sample_dir / "crm.csv"), f"sales={sheet}", "--db", str(db))
    done = _run(*args, "--rules", str(rules / "customer.match.yaml"), "--json")
    assert done.exit_code == 0, done.output
    [_, sales] = json.loads(done.stdout)["sources"]
    assert {m["basis"] for m in sales["mapped"]} == {"source mapping"}
    assert {m["attribute"]: m["column"] for m in sales["mapped"]} == mapping.columns


def test_the_demo_reads_the_sample_with_its_own_mappings(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    result = _run("demo", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "pairwise F1" in result.output
    sources = _report(db)
    assert [s["name"] for s in sources] == ["billing", "branch", "crm", "webshop"]
    assert sum(s["records"] for s in sources) == 6000
    for source in sources:
        yaml = load_source_mapping(SAMPLE_SOURCES / f"{source['name']}.yaml")
        assert {m["attribute"]: m["column"] for m in source["mapped"]} == yaml.columns
        assert {m["basis"] for m in source["mapped"]} == {"source mapping"}
        assert source["unused"] and "true_person_id" in source["unused"]


def test_the_generated_headers_need_no_mapping(
    reconciled_db: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    """The default rules have no source mappings: the generator's files are read by their
    headers, and give exactly the links that the demo's mappings give."""
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile
    from mdm.rules.bundle import RulesBundle

    db = tmp_path / "mapped.duckdb"
    rules = RulesBundle.load(DEFAULT_RULES, mappings_dir=SAMPLE_SOURCES.parent)
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, rules)
    query = "SELECT source, record_id, golden_id FROM xref ORDER BY ALL"
    with (
        duckdb.connect(str(db), read_only=True) as mapped,
        duckdb.connect(str(reconciled_db), read_only=True) as recognised,
    ):
        assert mapped.execute(query).fetchall() == recognised.execute(query).fetchall()
    assert {m["basis"] for s in _report(reconciled_db) for m in s["mapped"]} == {
        "schema name", "known synonym"
    }  # fmt: skip


XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml"
CSV = b"record_id,first_name\n1,Ann\n"
# (file name, content, what the message says)
MISFITS = [
    ("crm.xlsx", CSV, "is not an Excel workbook (it looks like CSV text); rename it to .csv "
     "or export it again as .xlsx"),
    ("crm.csv", XLSX, "is not CSV text (it looks like an Excel workbook); rename it to .xlsx"),
    ("crm.parquet", CSV, "is not a Parquet file (it looks like CSV text); rename it to .csv"),
    ("crm.jsonl", CSV, "is not JSON lines (it looks like CSV text); rename it to .csv"),
    ("crm.xlsx", b'{"record_id": "1"}\n', "(it looks like JSON text); rename it to .jsonl"),
    ("crm.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel .xls workbook"),
    ("crm.parquet", b"\x00\x01\x02", "is not a Parquet file (it does not look like one)"),
    ("crm.xlsx", b"PK\x03\x04 not a workbook", "cannot read"),
]  # fmt: skip
MISFIT_IDS = ["csv-as-xlsx", "xlsx-as-csv", "csv-as-parquet", "csv-as-jsonl", "json-as-xlsx",
              "xls-as-xlsx", "binary-as-parquet", "broken-zip"]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "message"), MISFITS, ids=MISFIT_IDS)
def test_a_file_whose_content_does_not_fit_its_suffix_is_named(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    db = tmp_path / "s.duckdb"
    for result in (
        _run("reconcile", f"crm={path}", "--db", str(db)),
        _run("sources", "infer", str(path)),
    ):
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    assert not db.exists()
