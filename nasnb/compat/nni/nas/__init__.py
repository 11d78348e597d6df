"""``nni.nas`` of NNI 1.x (see :mod:`nasnb.compat`)."""

__all__: list[str] = []
