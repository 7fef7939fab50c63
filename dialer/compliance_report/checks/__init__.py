"""One check per C-number (``registry``); importing this package registers them all."""

from dialer.compliance_report.checks import calls, campaigns, consent, data
from dialer.compliance_report.checks.registry import REGISTRY, Check, Context, checks

__all__ = ["REGISTRY", "Check", "Context", "calls", "campaigns", "checks", "consent", "data"]
