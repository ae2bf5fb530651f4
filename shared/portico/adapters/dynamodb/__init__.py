"""DynamoDB adapters: the config store, the quota store and the service registry."""
