"""The one exception the embedded servers raise for problems a developer can act on."""


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started, reached or stopped; the message names the log file to read."""
