"""Plain data classes shared by the layers (no I/O, no SQL).

``store`` builds and returns them, ``campaign``, ``commands`` and the web layer
consume them. They import nothing above ``dialer.consent.model`` and
``dialer.errors``, so ``store`` and ``campaign`` never import each other
(DESIGN.md, layers).
"""
