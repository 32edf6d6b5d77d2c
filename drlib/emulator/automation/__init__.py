"""SSM Automation on the emulator: document validation, reference resolution and the engine.

:mod:`.validation` checks Automation content as ``CreateDocument`` does; :mod:`.references`
resolves ``{{ Param }}`` / ``{{ step.Output }}`` references and output selectors; :mod:`.engine`
runs executions in background threads; :mod:`.actions` implements the supported actions. The
extension :mod:`drlib.emulator.extensions.ssm_automation` wires them into moto's SSM API.
"""
