"""The demo gRPC service: its .proto, the build step that compiles it to a descriptor set, and the server."""
