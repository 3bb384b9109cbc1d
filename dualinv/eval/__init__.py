"""Evaluation: the paper's metrics (§4.3), 360° FID, the MEAD protocol, bootstrap intervals and Tables 1-5.

``evaluate_method`` (the workflow's entry point) scores the output of the inversion runner
(:func:`dualinv.eval.inverters.invert_dataset`).
"""

from dualinv.eval.evaluate import evaluate_inversions, evaluate_method

__all__ = ["evaluate_inversions", "evaluate_method"]
