"""The node runtime: manager, subscribers, watcher, peer transport, HTTP API, auth."""
