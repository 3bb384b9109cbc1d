"""Evaluation: the paper's metrics (§4.3), 360° FID, the MEAD protocol, bootstrap intervals and Tables 1-5."""
