"""Local deploy: build, package, translate and create the SAM stack in the local AWS endpoint."""
