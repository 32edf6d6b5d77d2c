"""The embedded local AWS region pair (the ``local`` target). Only this package imports moto."""

from drlib.emulator.server import Emulator, client_environment, emulator_version, running_emulator

__all__ = ["Emulator", "client_environment", "emulator_version", "running_emulator"]
