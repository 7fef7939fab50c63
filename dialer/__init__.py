"""dialer: a self-hosted, compliance-first auto dialer for Asterisk."""

__version__ = "0.1.0"
