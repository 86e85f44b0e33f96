"""Domain errors: each names the bad value and what to do, and the CLI prints it as one line."""


class JudgeflowError(Exception):
    """Base for errors a user can act on; the CLI shows them without a traceback."""


class InputError(JudgeflowError, ValueError):
    """Bad input: a file, a flag or a row the user must fix."""


class ValidationFailedError(JudgeflowError):
    """A batch-level validation failure: the run stops and the store is left as it was."""
