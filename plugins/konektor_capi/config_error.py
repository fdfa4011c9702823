"""The one error a wrong setting raises: which field, what is wrong with it, and of which connection."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting that cannot be read or makes no sense. Its text names the field and never holds a
    password or token: the task fails with it before anything is read or sent."""

    def __init__(self, field: str, message: str, conn_id: str | None = None) -> None:
        self.field = field
        self.message = message
        self.conn_id = conn_id
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.conn_id:
            return f"{self.field} {self.message}" if self.field else self.message
        if not self.field:  # said of the connection itself: "connection 'x' is not defined"
            return f"connection {self.conn_id!r} {self.message}"
        return f"connection {self.conn_id!r}: {self.field} {self.message}"

    def of(self, conn_id: str) -> ConfigError:
        """The same error, said of connection `conn_id`."""
        return ConfigError(self.field, self.message, conn_id)
