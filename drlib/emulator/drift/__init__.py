"""CloudFormation drift detection on the emulator: expected properties, actual properties, and
the comparison CloudFormation makes between them.

- :mod:`.expected`: a stack resource's properties as its template and parameters define them
  (resolved as the stack resolved them when it made the resource), minus what CloudFormation
  never compares (write-only properties, KMS key ids, dynamic references, ``NoEcho`` values).
- :mod:`.readers`: each supported resource type's actual properties, read through the
  emulator's own AWS APIs as CloudFormation's read handlers read them; ``None`` when the
  resource is gone. A type without a reader is ``NOT_CHECKED``.
- :mod:`.compare`: the property differences (``/Path``, ``NOT_EQUAL``, ``ADD``, ``REMOVE``),
  arrays compared as sets where the type's registry schema says their order does not matter.

The API (``DetectStackDrift`` and friends) is :mod:`drlib.emulator.extensions.cfn_drift`.
"""
