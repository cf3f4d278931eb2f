"""The compliance app's pages, one module per area (STYLE: one URL → one function)."""
