"""The models layer (below training, dual, data and eval): the experiment registry, the study's
generator, the encoders of every registry entry, training checkpoints, and the one inversion
contract (:class:`~dualinv.models.inversion.Inversion`, :class:`~dualinv.models.inversion.Inverter`,
:func:`~dualinv.models.inversion.timed_per_image`). Import the submodules; this file loads nothing."""
