"""Use-case functions: the one place the CLI commands and the web console's route
handlers call (DESIGN.md, "Layers"). Each takes the settings, the open store,
plain inputs and the operator's name (recorded in the audit log), does the whole
job or nothing, and raises a ``DialerError`` naming the input at fault
(``DialerError.field``) so a command can print it and a form can show it next
to the field. Campaign lifecycle (start/pause/resume/cancel) lives in
``dialer.campaign.control``.
"""
