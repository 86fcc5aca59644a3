"""Dates and times as the admin writes them in English, in the one format of
``core.formatting.moment`` (``Dec 7, 2026, 3:45 PM UTC``): with the zone named, so a time
read in a list, a form or a history page means the same moment to everyone."""

DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, g:i A T"
TIME_FORMAT = "g:i A"
SHORT_DATE_FORMAT = "M j, Y"
SHORT_DATETIME_FORMAT = "M j, Y, g:i A T"
