"""Tools on a trained classifier: export, layer-by-layer inspection, weight edits and charts."""
