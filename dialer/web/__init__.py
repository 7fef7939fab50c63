"""The ASGI app ``dialer serve`` runs: JSON API, webhooks, health, metrics, staff UI.

Route handlers call the same library use-case functions as the CLI commands
(``dialer.campaign.control``, ``dialer.sms``); none of them holds business logic.
"""
