"""dtgen: one reviewed board file as the single source of truth for a board's memory plan."""

__version__ = "0.1.0"
