"""Webhooks from outside services: ``POST /sms/inbound`` (SMS replies, C5)."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
