"""Segment Anything (`segmenter.sam`): config and parameter schemas, model loading, inference, rendering.

`resources.sam.config` imports no torch, so the API can validate configs and parameters cheaply;
`model`, `infer` and `render` are imported only by workers.
"""
