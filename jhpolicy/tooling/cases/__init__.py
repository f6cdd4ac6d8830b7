"""`jhpolicy test CASES.yaml`: an admin's table of spawn requests and what
each must give, run through the spawner's own input path (jhpolicy.tooling.dry_run)
against their policy folder with a local OPA. No cluster, no hub.

A suite fails on any mismatch, and refuses to run (exit 2) when it is empty
or malformed: an unknown key, an outcome that is not one, or an expectation
that could never be checked (pod values on a refusal, a key no pod has), so a
typo never turns into a case that passes without testing anything.

The package, by concern: reading a suite (`suite`), running and comparing
(`checking`), JUnit XML (`junit`), writing cases (`writing`), and how values
and messages are shown (`words`).
"""

from .checking import Result, compare, run
from .junit import junit_xml
from .suite import CASE_KEYS, EXPECT_KEYS, OUTCOMES, SUITE_KEYS, Case, Suite, SuiteError, UnknownKey, expectation, load
from .writing import case_from_report, case_of, dump, from_logged, starter_requests

__all__ = [
    "CASE_KEYS", "EXPECT_KEYS", "OUTCOMES", "SUITE_KEYS", "Case", "Result", "Suite", "SuiteError", "UnknownKey",
    "case_from_report", "case_of", "compare", "dump", "expectation", "from_logged", "junit_xml", "load", "run",
    "starter_requests",
]
