"""The pure core: config models, routing, auth, quota maths and the filter chain. No I/O, no clock reads."""
