"""Jurisdiction policy: groups of countries, parsing --allow/--deny and policy files, judging."""

from auditor.countries import ISO_3166_ALPHA2, country_name
from auditor.policy.groups import GROUPS, expand
from auditor.policy.judge import judge, judge_findings
from auditor.policy.parse import load_policy_file, parse_policy

__all__ = [
    "GROUPS",
    "ISO_3166_ALPHA2",
    "country_name",
    "expand",
    "judge",
    "judge_findings",
    "load_policy_file",
    "parse_policy",
]
