"""The developer portal's pure part: the OpenAPI document generated from the route table."""
