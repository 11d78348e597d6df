"""``nni.nas.pytorch`` of NNI 1.x on nasnb (see :mod:`nasnb.compat`)."""

__all__: list[str] = []
