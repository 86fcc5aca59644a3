"""Text bound for a CSV file that people open in a spreadsheet."""

# What a spreadsheet reads as the start of a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: one that would start a
    formula is prefixed with ``'``."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
