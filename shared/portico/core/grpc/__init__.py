"""REST/JSON <-> gRPC: google.api.http templates, descriptor sets, transcoding and the status mapping (pure)."""
