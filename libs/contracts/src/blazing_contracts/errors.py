"""Errors raised when bytes do not make a valid contract message."""


class ContractError(ValueError):
    """The message is undecodable, of an unknown type or version, or its payload is invalid.

    Consumers treat it as poison: it goes straight to the dead-letter topic or queue.
    """
