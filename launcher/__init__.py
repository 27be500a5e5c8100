"""Starting the commons: the `commons` command, the embedded stack it supervises, the demo, and the Python
client that programs (and the demo) use to talk to the REST API."""
