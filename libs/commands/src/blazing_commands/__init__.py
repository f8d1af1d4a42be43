"""RabbitMQ commands: the bus that sends them and the runner that consumes them."""

from blazing_commands.bus import CommandBus
from blazing_commands.consumer import CommandRunner, PermanentFailure, TransientFailure, is_permanent, subscribe

__all__ = ["CommandBus", "CommandRunner", "PermanentFailure", "TransientFailure", "is_permanent", "subscribe"]
