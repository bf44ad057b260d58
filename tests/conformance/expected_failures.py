"""WPT cases that fail on purpose, each with its reason: the one list of known failures.

Keyed by (file stem, case name). Listed cases run as strict xfail, so a case that
starts passing shows up as an unexpected pass and must be removed from here.
"""

from __future__ import annotations

EXPECTED_FAILURES: dict[tuple[str, str], str] = {}
