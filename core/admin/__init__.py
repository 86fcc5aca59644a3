"""The admin toolkit every app's admin builds on.

- ``readonly``: admins and inlines for records only the services write (the ledger, event
  rows, supplier orders), and history that is read, never reverted.
- ``errors``: a domain error a service raises becomes a form error or a message.
- ``actions``: the actions that ask first: a confirm page, then the service once per
  selected object, each outcome a message.
- ``rights``: the permission checks of the admins' own pages.
- ``buttons``: the change page of a record that only services change.
- ``importexport``: the base of the admins staff import and export with."""

# Registered here, where the admin's autodiscovery finds core's admin: the job runs.
from core.admin import job_runs  # noqa: F401
