"""The C20 compliance report: ``dialer audit report [--since] [--until] [--json]``.

For the period ``[since, until)`` (attempts by ``decided_at``, revocations by
``received_at``, consents by ``recorded_at``, audit entries by ``at``; an open
end is unbounded) it shows what COMPLIANCE.md C20 asks for, and it does not
take the gate's word for it: the figures that must be zero are *recomputed*
from the raw rows, independently of ``dialer.consent.gate``:

* calls outside the window: every allowed non-emergency attempt's number is
  unsealed (``contacts.number_sealed`` of its keyed hash) and its local time re-checked in every
  zone of the number (``dialer.consent.windows``, C12);
* calls without required consent: every allowed attempt is re-checked against
  the consents and revocations the store held at its ``decided_at`` (C2, C3,
  C7; residential-exemption calls are counted, not flagged, C13);
* time from revocation to effect: ``recorded_at - received_at``, and the first
  attempt to that number after the revocation was recorded must be blocked,
  unless an audited emergency override or a later consent allowed it (C6).

* every other rule, for every placed call (``dialtime``): caller ID on the
  allowlist, erased, wrong party, organisation and national DNC lists, emergency
  overrides, each re-derived from the audit log as it stood at the call (the log
  outlives erased and purged rows) and from the facts the gate kept with the
  attempt (zones, national DNC membership), whose MAC must verify.

Then every requirement C1-C20 (one registered check each, ``checks``) with the
evidence the store holds and the tests that prove it (``pytest -k cN_``).
Status per requirement: ``ok`` (checked, nothing wrong), ``violation``
(checked, something wrong: investigate), ``unverified`` (some call could not
be checked: a finding, never a pass), ``evidence`` (figures only; proven by
validators and tests). "No violations" is printed only when every rule was
checked for every placed call. No plaintext number appears in the report
(C18): only counts and call ids.
"""

from __future__ import annotations

from dialer.compliance_report.render import render_report
from dialer.compliance_report.report import audit_report

__all__ = ["audit_report", "render_report"]
