"""Label Studio's ML backend protocol for one commons version (health, setup, predict, webhook): its schemas,
the labeling config read, Label Studio tasks turned into commons tasks (one per prediction, with its manifest) and
their outputs turned into Label Studio predictions (brush masks in Label Studio's RLE, choices with scores)."""
