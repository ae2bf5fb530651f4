"""Local stand-ins for the services edge protection talks to: a Lambda Invoke endpoint, an authoriser, an IdP."""
