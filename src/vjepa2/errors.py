"""The package's error types: the CLI prints them as one line (exit 2 for usage, 1 otherwise)."""


class VJEPA2Error(Exception):
    """Base of every error the package raises on purpose; the CLI prints its message alone."""


class UsageError(VJEPA2Error):
    """Bad input or options from the user (exit code 2)."""
