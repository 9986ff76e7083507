"""Cells of a CSV export that a spreadsheet would run as a formula, made harmless."""

from __future__ import annotations

# What a spreadsheet takes as the start of a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """The text of a cell as a spreadsheet shows it, never runs it: a leading quote."""
    if cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
