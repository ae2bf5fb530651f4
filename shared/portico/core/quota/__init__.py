"""Quota maths: fixed windows, counter keys, rate-limit headers, leases and the limiter that drives a QuotaStore."""
