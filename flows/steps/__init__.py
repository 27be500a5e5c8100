"""The steps every task run shares, whatever its kind: prepare (init), publish, the content cache, the loaded-model
cache, heartbeats, GPU slots, progress reports, reproduction checks and the record of the environment."""
