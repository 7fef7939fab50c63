"""Web console accounts: roles and what each may do, password hashing, and the
use-cases that add, list, disable and authenticate users (CLI and web alike)."""
