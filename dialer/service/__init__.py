"""The always-on service: ``dialer serve`` (engine, scheduler, HTTP) and its pieces."""
