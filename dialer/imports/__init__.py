"""Streamed imports of the files staff bring: contact lists, consent exports."""
