"""auditor: proves where a video meeting's traffic really went."""

__version__ = "0.1.0"
