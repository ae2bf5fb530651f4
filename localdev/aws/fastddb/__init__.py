"""A fast path for the hottest DynamoDB calls on the embedded endpoint; moto answers everything else."""
