"""A suite's results as JUnit XML."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .checking import Result
from .suite import Suite


def junit_xml(results: list[Result], suite: Suite) -> str:
    """JUnit XML, which CI systems (GitHub Actions, GitLab, Jenkins) show per case."""
    failures = sum(not r.passed for r in results)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuite name={quoteattr(str(suite.path))} tests="{len(results)}" failures="{failures}">']
    for r in results:
        name = quoteattr(r.case.name)
        where = quoteattr(f"{suite.path}:{r.case.line}")
        if r.passed:
            lines.append(f'  <testcase classname="jhpolicy" name={name} file={where}/>')
        else:
            text = "; ".join(r.mismatches)
            lines.append(f'  <testcase classname="jhpolicy" name={name} file={where}>'
                         f'<failure message={quoteattr(text)}/></testcase>')
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"
