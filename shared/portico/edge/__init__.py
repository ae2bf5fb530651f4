"""The edge: event adapters and the filter pipeline that the Lambda handler and the local front door run."""
