"""The history's tables, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

The migrations under ``migrations/versions`` create exactly these tables; a test compares the two
so they cannot drift. A change here needs a new migration and a new ``SCHEMA_REVISION``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

# The newest Alembic revision this code knows. The store refuses a history written by a newer one.
SCHEMA_REVISION = "0001"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("host", String(255), nullable=False),
    Column("tool_version", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("exit_status", Integer, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("policy_sha256", String(64)),
    Column("policy_text", Text),
    Column("policy", JSON),  # the effective policy: allow, deny, strict, judge_by
    Column("errors", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("endpoints", Integer, nullable=False),
    Column("violations", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Index(None, "recorded_at"),
)

run_databases = Table(
    "run_databases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("database_type", String(255), nullable=False),
    Column("build_epoch", BigInteger, nullable=False),
    Column("sha256", String(64)),
    Index(None, "run_id"),
)

run_captures = Table(
    "run_captures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("verdict", String(16), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("packets", BigInteger, nullable=False),
    Index(None, "run_id"),
    Index(None, "path"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("country", String(16)),
    Column("registered_country", String(16)),
    Column("asn", BigInteger),
    Column("org", Text),
    Column("platform", String(255)),
    Column("hostnames", JSON, nullable=False),
    Column("ports", JSON, nullable=False),
    Column("packets", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Index(None, "run_id"),
    Index(None, "verdict", "country"),
    Index(None, "ip"),
)

# Which of the run's captures show each finding: the answer to "which meetings violated?".
finding_captures = Table(
    "finding_captures",
    metadata,
    Column(
        "finding_id",
        Integer,
        ForeignKey("findings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "capture_id",
        Integer,
        ForeignKey("run_captures.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index(None, "capture_id"),
)
